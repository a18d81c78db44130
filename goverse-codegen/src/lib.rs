//! The code generation behind `#[goverse::object]`, as an ordinary library.
//!
//! The pipeline is parse → validate → model → expand: [`parse`] turns syn's tree into the raw
//! attribute options and marked functions, [`validate`] applies every rule (collecting all
//! errors, each spanned on the offending token) and builds the typed [`model`], and [`expand`]
//! writes the tokens from the model alone. Generated code names the runtime only through
//! `<crate>::__private`.

mod diagnostics;
mod expand;
mod model;
mod parse;
mod validate;

use proc_macro2::TokenStream;
use quote::quote;

/// Expands `#[goverse::object(attr)] item`. `default_crate` is the path of the goverse crate as
/// the calling crate names it; the `crate = path` option overrides it.
///
/// On error the output is the user's impl block (with goverse's attributes removed) followed by
/// the errors, so that one mistake does not cascade into many.
pub fn expand_object(
    attr: TokenStream,
    item: TokenStream,
    default_crate: syn::Path,
) -> TokenStream {
    let item_impl = match syn::parse2::<syn::ItemImpl>(item.clone()) {
        Ok(item_impl) => item_impl,
        Err(_) => {
            let error = syn::Error::new_spanned(
                leading_tokens(&item),
                "#[goverse::object] goes on an inherent `impl` block of a struct, \
                 e.g. `#[goverse::object] impl Counter { ... }`",
            );
            let error = error.to_compile_error();
            return quote!(#item #error);
        }
    };
    let parsed = parse::parse(attr, &item_impl);
    match validate::validate(parsed, default_crate) {
        Ok(model) => expand::expand(&model, &item_impl),
        Err(error) => {
            let item = expand::strip_goverse_attributes(&item_impl);
            let error = error.to_compile_error();
            quote!(#item #error)
        }
    }
}

/// Expands one of goverse's inner attributes used outside a `#[goverse::object]` impl block:
/// the item stays as it is, with an error that says where the attribute belongs.
pub fn outside_object(attribute: &str, attr: TokenStream, item: TokenStream) -> TokenStream {
    let _ = attr;
    let message = format!(
        "#[{attribute}] only works on a method inside an impl block annotated with \
         #[goverse::object]; put it on a method of such a block (a free function cannot be a \
         goverse method)"
    );
    let error = syn::Error::new_spanned(leading_tokens(&item), message).to_compile_error();
    quote!(#item #error)
}

/// The first few tokens of an item, to put an error's span on its head rather than its body.
fn leading_tokens(item: &TokenStream) -> TokenStream {
    item.clone()
        .into_iter()
        .take_while(|tree| !matches!(tree, proc_macro2::TokenTree::Group(g) if g.delimiter() == proc_macro2::Delimiter::Brace))
        .collect()
}
