// 13 arguments: one more than a method can take.
#[derive(Default)]
pub struct Summer;

#[goverse::object]
impl Summer {
    #[method]
    #[allow(clippy::too_many_arguments)]
    pub async fn sum(
        &self,
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
        m: i64,
    ) -> i64 {
        a + b + c + d + e + f + g + h + i + j + k + l + m
    }
}

fn main() {}
