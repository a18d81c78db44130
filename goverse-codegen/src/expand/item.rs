//! Re-emits the user's impl block without goverse's inner attributes.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::{ImplItem, ItemImpl};

use crate::parse::mark_of;

/// The impl block as written, minus `#[method]`, `#[on_activate]` and `#[on_deactivate]`.
pub(crate) fn strip_goverse_attributes(item: &ItemImpl) -> TokenStream {
    let mut item = item.clone();
    for impl_item in &mut item.items {
        let attrs = match impl_item {
            ImplItem::Fn(func) => &mut func.attrs,
            ImplItem::Const(constant) => &mut constant.attrs,
            ImplItem::Type(ty) => &mut ty.attrs,
            ImplItem::Macro(mac) => &mut mac.attrs,
            _ => continue,
        };
        attrs.retain(|attr| mark_of(attr).is_none());
    }
    item.into_token_stream()
}
