//! Argument types: twelve arguments (the maximum), nested generics, maps, tuples, arrays,
//! enums and user structs with serde derives, also through an encoded call by name.

use std::collections::{BTreeMap, HashMap};

use goverse::codec::Codec;
use goverse::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub x: i64,
    pub y: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Shape {
    Dot(Point),
    Segment { from: Point, to: Point },
    Empty,
}

#[derive(Default)]
pub struct Bag {
    names: Vec<Option<String>>,
}

#[goverse::object]
impl Bag {
    /// Twelve arguments of twelve different types.
    #[method]
    #[allow(clippy::too_many_arguments)]
    pub async fn twelve(
        &self,
        a: u8,
        b: i16,
        c: u32,
        d: i64,
        e: u128,
        f: f32,
        g: f64,
        h: bool,
        i: char,
        j: String,
        k: Option<u8>,
        l: (),
    ) -> String {
        let () = l;
        format!("{a} {b} {c} {d} {e} {f} {g} {h} {i} {j} {k:?}")
    }

    /// Twelve arguments and a `&Context`: the context does not count.
    #[method]
    #[allow(clippy::too_many_arguments)]
    pub async fn twelve_with_context(
        &mut self,
        ctx: &Context,
        a: i64,
        b: i64,
        c: i64,
        d: i64,
        e: i64,
        f: i64,
        g: i64,
        h: i64,
        i: i64,
        j: i64,
        k: i64,
        l: i64,
    ) -> (String, i64) {
        (
            ctx.object_id().to_string(),
            a + b + c + d + e + f + g + h + i + j + k + l,
        )
    }

    #[method]
    pub async fn store(&mut self, names: Vec<Option<String>>) -> usize {
        self.names.extend(names);
        self.names.len()
    }

    #[method]
    pub async fn names(&self) -> Vec<Option<String>> {
        self.names.clone()
    }

    #[method]
    pub async fn totals(&self, scores: HashMap<String, Vec<u32>>) -> BTreeMap<String, u32> {
        scores
            .into_iter()
            .map(|(name, values)| (name, values.iter().sum()))
            .collect()
    }

    #[method]
    pub async fn swap(&self, pair: (String, i32), grid: [[u8; 2]; 2]) -> ((i32, String), [u8; 4]) {
        let flat = [grid[0][0], grid[0][1], grid[1][0], grid[1][1]];
        ((pair.1, pair.0), flat)
    }

    #[method]
    pub async fn len(&self, shape: Shape, nested: Option<Box<Point>>) -> Result<i64> {
        let extra = nested.map_or(0, |p| p.x + p.y);
        match shape {
            Shape::Dot(_) => Ok(extra),
            Shape::Segment { from, to } => {
                Ok((to.x - from.x).abs() + (to.y - from.y).abs() + extra)
            }
            Shape::Empty => Err(Error::invalid_argument("an empty shape has no length")),
        }
    }

    #[method]
    pub async fn mirror(&self, points: Vec<Point>) -> Vec<Point> {
        points
            .into_iter()
            .map(|p| Point { x: p.y, y: p.x })
            .collect()
    }
}

#[tokio::main]
async fn main() -> goverse::Result<()> {
    let node = Node::builder().start().await?;
    let bag = node.object::<Bag>("bag");

    let text = bag
        .twelve(
            1,
            -2,
            3,
            -4,
            5,
            6.5,
            7.25,
            true,
            'z',
            "j".to_string(),
            Some(9),
            (),
        )
        .await?;
    assert_eq!(text, "1 -2 3 -4 5 6.5 7.25 true z j Some(9)");
    assert_eq!(
        bag.twelve_with_context(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)
            .await?,
        ("bag".to_string(), 78)
    );

    let names = vec![Some("a".to_string()), None, Some("c".to_string())];
    assert_eq!(bag.store(names.clone()).await?, 3);
    assert_eq!(bag.names().await?, names);

    let mut scores = HashMap::new();
    scores.insert("ann".to_string(), vec![1, 2, 3]);
    scores.insert("bo".to_string(), vec![]);
    let totals = bag.totals(scores).await?;
    assert_eq!(totals.get("ann"), Some(&6));
    assert_eq!(totals.get("bo"), Some(&0));

    assert_eq!(
        bag.swap(("s".to_string(), 4), [[1, 2], [3, 4]]).await?,
        ((4, "s".to_string()), [1, 2, 3, 4])
    );

    let from = Point { x: 0, y: 0 };
    let to = Point { x: 3, y: -4 };
    assert_eq!(
        bag.len(
            Shape::Segment {
                from,
                to: to.clone()
            },
            Some(Box::new(Point { x: 1, y: 1 }))
        )
        .await?,
        9
    );
    assert_eq!(bag.len(Shape::Dot(to.clone()), None).await?, 0);
    assert_eq!(
        bag.len(Shape::Empty, None).await.unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(bag.mirror(vec![to]).await?, vec![Point { x: -4, y: 3 }]);

    // The same method through an encoded call: arguments travel as named parameters.
    let mut args = BTreeMap::new();
    args.insert("points", vec![Point { x: 1, y: 2 }]);
    let reply = node
        .call_by_name("Bag", "bag", "mirror", Codec::Json.encode(&args)?)
        .await?;
    let mirrored: Vec<Point> = reply.decode("the reply")?;
    assert_eq!(mirrored, vec![Point { x: 2, y: 1 }]);

    let bag_type = node
        .object_types()
        .into_iter()
        .find(|t| t.name == "Bag")
        .unwrap();
    let twelve = bag_type
        .methods
        .iter()
        .find(|m| m.name == "twelve")
        .unwrap();
    assert_eq!(
        twelve.params,
        ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"]
    );

    node.shutdown().await
}
