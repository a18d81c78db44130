//! The procedural macros of goverse. Use them through the `goverse` crate
//! (`#[goverse::object]`, `#[method]`, `#[on_activate]`, `#[on_deactivate]`); the logic lives in
//! `goverse-codegen`.

use proc_macro::TokenStream;
use proc_macro_crate::{FoundCrate, crate_name};
use quote::quote;

/// See `goverse::object`.
#[proc_macro_attribute]
pub fn object(attr: TokenStream, item: TokenStream) -> TokenStream {
    let expanded = goverse_codegen::expand_object(attr.into(), item.into(), default_crate_path());
    debug_print(&expanded);
    expanded.into()
}

/// See `goverse::method`.
#[proc_macro_attribute]
pub fn method(attr: TokenStream, item: TokenStream) -> TokenStream {
    goverse_codegen::outside_object("method", attr.into(), item.into()).into()
}

/// See `goverse::on_activate`.
#[proc_macro_attribute]
pub fn on_activate(attr: TokenStream, item: TokenStream) -> TokenStream {
    goverse_codegen::outside_object("on_activate", attr.into(), item.into()).into()
}

/// See `goverse::on_deactivate`.
#[proc_macro_attribute]
pub fn on_deactivate(attr: TokenStream, item: TokenStream) -> TokenStream {
    goverse_codegen::outside_object("on_deactivate", attr.into(), item.into()).into()
}

/// The path of the `goverse` crate as the calling crate names it (it may be renamed).
fn default_crate_path() -> syn::Path {
    match crate_name("goverse") {
        Ok(FoundCrate::Name(name)) => {
            let ident = syn::Ident::new(&name, proc_macro2::Span::call_site());
            syn::parse_quote!(::#ident)
        }
        Ok(FoundCrate::Itself) | Err(_) => syn::parse_quote!(::goverse),
    }
}

/// Prints the expansion when `GOVERSE_MACROS_DEBUG` is set, for debugging the macro.
fn debug_print(expanded: &proc_macro2::TokenStream) {
    if std::env::var_os("GOVERSE_MACROS_DEBUG").is_some() {
        eprintln!("{}", quote!(#expanded));
    }
}
