//! Expansion: writes the generated code from the model alone, one file per concern.

mod assert;
mod dispatch;
mod item;
mod proxy;
mod register;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::ItemImpl;

use crate::model::{MethodModel, ObjectModel};

pub(crate) use item::strip_goverse_attributes;

/// The whole expansion: the user's impl block, the public proxy type, and everything else inside
/// one hidden `const _: () = { ... };` block.
pub(crate) fn expand(model: &ObjectModel, item: &ItemImpl) -> TokenStream {
    let item = strip_goverse_attributes(item);
    let proxy_type = proxy::proxy_type(model);
    let proxy_impls = proxy::proxy_impls(model);
    let dispatch = dispatch::expand(model);
    let register = register::expand(model);
    let asserts = assert::expand(model);
    quote! {
        #item

        #proxy_type

        #[allow(non_camel_case_types, unused_qualifications, clippy::all)]
        const _: () = {
            #asserts
            #proxy_impls
            #dispatch
            #register
        };
    }
}

/// The hidden marker type that stands for one method at the type level.
fn marker(method: &MethodModel) -> syn::Ident {
    format_ident!("__goverse_method_{}", method.rust_name)
}
