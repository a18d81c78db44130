//! Spanned static assertions: errors only the compiler can find (a type that is not
//! serializable, an object without `Default`) are reported on the user's own tokens.

use proc_macro2::TokenStream;
use quote::quote_spanned;
use syn::spanned::Spanned;

use crate::model::ObjectModel;

/// One assertion per object type, argument type and result type.
pub(super) fn expand(model: &ObjectModel) -> TokenStream {
    let krate = &model.krate;
    let self_ty = &model.self_ty;
    let mut asserts = vec![quote_spanned! {self_ty.span()=>
        const _: () = #krate::__private::assert_object_state::<#self_ty>();
    }];
    for method in &model.methods {
        for param in &method.params {
            let ty = &param.ty;
            asserts.push(quote_spanned! {ty.span()=>
                const _: () = #krate::__private::assert_argument::<#ty>();
            });
        }
        let ok = method.output.ok_type();
        asserts.push(quote_spanned! {method.output.span()=>
            const _: () = #krate::__private::assert_output::<#ok>();
        });
    }
    // One assertion per distinct type is enough.
    let mut seen = std::collections::HashSet::new();
    asserts.retain(|assert| seen.insert(assert.to_string()));
    asserts.into_iter().collect()
}
