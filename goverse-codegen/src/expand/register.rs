//! Registration through `inventory`, so a node knows every object type linked into the binary.

use proc_macro2::TokenStream;
use quote::quote;

use crate::model::ObjectModel;

/// The `inventory` submission for the object type.
pub(super) fn expand(model: &ObjectModel) -> TokenStream {
    let ObjectModel { krate, self_ty, .. } = model;
    quote! {
        #krate::__private::inventory::submit! {
            #krate::__private::ObjectRegistration::of::<#self_ty>()
        }
    }
}
