//! JSON schemas of method parameters and results, for the gate's OpenAPI document. A type
//! describes itself by implementing `schemars::JsonSchema` (cargo feature `schemars`); any
//! other type has no schema (the document then says "any JSON value").
//!
//! The macro cannot ask whether a type implements a trait, so the generated code calls
//! `json_schema` on `&&SchemaOf<T>`: method lookup picks [`HasJsonSchema`] (implemented for
//! `&SchemaOf<T>` where `T: JsonSchema`) before [`NoJsonSchema`] (implemented for every
//! `SchemaOf<T>`, one auto-dereference further).

use std::marker::PhantomData;

use serde_json::{Map, Value};

/// Collects schemas; types used in several places are described once, under
/// `#/components/schemas/<name>`.
pub struct Schemas {
    #[cfg(feature = "schemars")]
    generator: schemars::SchemaGenerator,
}

impl std::fmt::Debug for Schemas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schemas").finish_non_exhaustive()
    }
}

// Not derived: with `schemars`, the generator must use OpenAPI 3.0's settings.
#[allow(clippy::derivable_impls)]
impl Default for Schemas {
    fn default() -> Self {
        Schemas {
            #[cfg(feature = "schemars")]
            generator: schemars::generate::SchemaSettings::openapi3().into_generator(),
        }
    }
}

impl Schemas {
    /// The named schemas the collected ones refer to, for `components.schemas`.
    pub fn into_definitions(self) -> Map<String, Value> {
        #[cfg(feature = "schemars")]
        {
            let mut generator = self.generator;
            generator.take_definitions(true)
        }
        #[cfg(not(feature = "schemars"))]
        Map::new()
    }
}

/// The schemas of one method's parameters (in order) and result; `None` where the type
/// provides none.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MethodSchemas {
    /// One per parameter.
    pub params: Vec<Option<Value>>,
    /// The successful result's.
    pub result: Option<Value>,
}

impl MethodSchemas {
    /// The schemas of a method's parameters and result.
    pub fn new<const N: usize>(params: [Option<Value>; N], result: Option<Value>) -> Self {
        MethodSchemas {
            params: params.into(),
            result,
        }
    }
}

/// Stands for the type `T` in the generated code's schema lookup (see the module docs).
#[derive(Debug)]
pub struct SchemaOf<T: ?Sized>(PhantomData<T>);

impl<T: ?Sized> SchemaOf<T> {
    /// The only value.
    pub const NEW: Self = SchemaOf(PhantomData);
}

/// The schema of a type that implements `schemars::JsonSchema`.
pub trait HasJsonSchema {
    /// `T`'s schema (a `$ref` for named types, whose definitions `schemas` keeps).
    fn json_schema(&self, schemas: &mut Schemas) -> Option<Value>;
}

#[cfg(feature = "schemars")]
impl<T: ?Sized + schemars::JsonSchema> HasJsonSchema for &SchemaOf<T> {
    fn json_schema(&self, schemas: &mut Schemas) -> Option<Value> {
        Some(schemas.generator.subschema_for::<T>().to_value())
    }
}

/// No schema: for a type that does not implement `schemars::JsonSchema`.
pub trait NoJsonSchema {
    /// Always `None`.
    fn json_schema(&self, _schemas: &mut Schemas) -> Option<Value> {
        None
    }
}

impl<T: ?Sized> NoJsonSchema for SchemaOf<T> {}

/// The body of a method's generated `Method::schemas`: `schemas; <parameter types>; <result
/// type>` looked up through [`SchemaOf`] (the lookup lives here once, not in every expansion).
/// Not public API.
#[doc(hidden)]
#[macro_export]
macro_rules! __method_schemas {
    ($schemas:ident; $($param:ty),*; $output:ty) => {{
        #[allow(unused_imports)]
        use $crate::__private::HasJsonSchema as _;
        #[allow(unused_imports)]
        use $crate::__private::NoJsonSchema as _;
        $crate::__private::MethodSchemas::new(
            [$((&&$crate::__private::SchemaOf::<$param>::NEW).json_schema($schemas)),*],
            (&&$crate::__private::SchemaOf::<$output>::NEW).json_schema($schemas),
        )
    }};
}

#[cfg(test)]
#[allow(clippy::needless_borrow)] // the lookup the generated code makes, on purpose
mod tests {
    #[allow(unused_imports)]
    use super::{HasJsonSchema as _, NoJsonSchema as _, SchemaOf, Schemas};

    struct Opaque;

    #[test]
    fn a_type_without_json_schema_has_none() {
        let mut schemas = Schemas::default();
        assert_eq!((&&SchemaOf::<Opaque>::NEW).json_schema(&mut schemas), None);
    }

    #[cfg(feature = "schemars")]
    #[test]
    fn a_type_with_json_schema_is_described_and_named_types_are_shared() {
        #[derive(schemars::JsonSchema)]
        #[allow(dead_code)]
        struct Point {
            x: i32,
            y: i32,
        }
        let mut schemas = Schemas::default();
        let number = (&&SchemaOf::<u32>::NEW).json_schema(&mut schemas).unwrap();
        assert_eq!(number["type"], "integer");
        let point = (&&SchemaOf::<Point>::NEW)
            .json_schema(&mut schemas)
            .unwrap();
        assert_eq!(point["$ref"], "#/components/schemas/Point");
        let definitions = schemas.into_definitions();
        assert_eq!(definitions["Point"]["properties"]["x"]["type"], "integer");
    }
}
