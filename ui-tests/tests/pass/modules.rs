//! Where objects live: two objects in one module, and an object in a nested module whose state
//! type, argument type and helper are private to that module.

mod shop {
    use serde::{Deserialize, Serialize};

    #[derive(Default)]
    pub struct Cart {
        items: Vec<String>,
    }

    #[goverse::object]
    impl Cart {
        #[method]
        pub async fn add(&mut self, item: String) -> usize {
            self.items.push(item);
            self.items.len()
        }

        /// Same method name as `Stock::get`: markers do not clash.
        #[method]
        pub async fn get(&self) -> Vec<String> {
            self.items.clone()
        }
    }

    #[derive(Default, Serialize, Deserialize)]
    pub struct Stock {
        count: u32,
    }

    #[goverse::object]
    impl Stock {
        #[method]
        pub async fn add(&mut self, n: u32) -> u32 {
            self.count += n;
            self.count
        }

        #[method]
        pub async fn get(&self) -> u32 {
            self.count
        }
    }

    pub mod vault {
        use serde::{Deserialize, Serialize};

        /// Private to `vault`: only the generated proxy is reachable from outside.
        #[derive(Default)]
        struct Secret {
            codes: Vec<Code>,
        }

        /// A private argument and result type.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        struct Code(u32);

        #[goverse::object]
        impl Secret {
            #[method]
            async fn keep(&mut self, code: Code) -> usize {
                self.codes.push(code);
                self.codes.len()
            }

            #[method]
            pub(crate) async fn count(&self) -> usize {
                self.codes.len()
            }
        }

        /// Exercises the private object from inside its module.
        pub async fn run(node: &goverse::Node) -> usize {
            let secret = node.object::<Secret>("s");
            assert_eq!(secret.keep(Code(7)).await.unwrap(), 1);
            secret.keep(Code(8)).await.unwrap()
        }

        /// The proxy type of the private object, named from outside.
        pub fn proxy(node: &goverse::Node) -> SecretProxy {
            node.object::<Secret>("s")
        }
    }
}

use shop::{Cart, CartProxy, Stock, StockProxy};

#[tokio::main]
async fn main() {
    let node = goverse::Node::builder().start().await.unwrap();
    let cart: CartProxy = node.object::<Cart>("c");
    assert_eq!(cart.add("apple".to_string()).await.unwrap(), 1);
    assert_eq!(cart.get().await.unwrap(), ["apple"]);
    let stock: StockProxy = node.object::<Stock>("apple");
    assert_eq!(stock.add(3).await.unwrap(), 3);
    assert_eq!(stock.get().await.unwrap(), 3);

    assert_eq!(shop::vault::run(&node).await, 2);
    let proxy: shop::vault::SecretProxy = shop::vault::proxy(&node);
    assert_eq!(proxy.count().await.unwrap(), 2);

    let mut names: Vec<&str> = node.object_types().iter().map(|t| t.name).collect();
    names.sort();
    assert_eq!(names, ["Cart", "Secret", "Stock"]);
    node.shutdown().await.unwrap();
}
