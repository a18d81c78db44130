//! The typed proxy `{Type}Proxy`: one async method per `#[method]`.

use proc_macro2::TokenStream;
use quote::quote;

use super::marker;
use crate::model::{MethodModel, ObjectModel, Turn};

/// The public proxy struct.
pub(super) fn proxy_type(model: &ObjectModel) -> TokenStream {
    let ObjectModel {
        krate,
        proxy,
        wire_name,
        ..
    } = model;
    let doc = format!(
        " Typed proxy for `{wire_name}` objects: one async method per `#[method]`; each call \
         activates the object if needed and runs as one turn. Get one with `Node::object` or \
         `Context::object`."
    );
    quote! {
        #[doc = #doc]
        #[derive(::core::clone::Clone, ::core::fmt::Debug)]
        pub struct #proxy {
            handle: #krate::__private::ObjectHandle,
        }
    }
}

/// The `Proxy` impl and the proxy's methods.
pub(super) fn proxy_impls(model: &ObjectModel) -> TokenStream {
    let ObjectModel { krate, proxy, .. } = model;
    let methods = model
        .methods
        .iter()
        .map(|method| proxy_method(model, method));
    quote! {
        #[automatically_derived]
        impl #krate::__private::Proxy for #proxy {
            fn from_handle(handle: #krate::__private::ObjectHandle) -> Self {
                #proxy { handle }
            }

            fn handle(&self) -> &#krate::__private::ObjectHandle {
                &self.handle
            }
        }

        #[allow(private_interfaces)]
        impl #proxy {
            #(#methods)*
        }
    }
}

fn proxy_method(model: &ObjectModel, method: &MethodModel) -> TokenStream {
    let krate = &model.krate;
    let name = &method.rust_name;
    let docs = &method.docs;
    let marker = marker(method);
    let ok = method.output.ok_type();
    let names: Vec<_> = method.params.iter().map(|p| &p.name).collect();
    let types: Vec<_> = method.params.iter().map(|p| &p.ty).collect();
    let (call, turn) = match method.turn {
        Turn::Exclusive => (quote!(call_exclusive), "an exclusive turn"),
        Turn::Shared => (quote!(call_shared), "a shared turn"),
    };
    let summary = format!(
        " Calls `{}.{}` as {turn}.",
        model.wire_name, method.wire_name
    );
    let separator = (!docs.is_empty()).then(|| quote!(#[doc = ""]));
    quote! {
        #(#docs)*
        #separator
        #[doc = #summary]
        pub async fn #name(&self, #(#names: #types),*) -> #krate::__private::Result<#ok> {
            self.handle.#call::<#marker>((#(#names,)*)).await
        }
    }
}
