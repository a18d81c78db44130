//! The dispatch side: one marker type per method (its `Method` impl and how to invoke it) and
//! the `Object` impl with the dispatch table and the lifecycle hooks.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;

use super::marker;
use crate::model::{HookModel, MethodModel, ObjectModel, Output, SavePolicyModel, Turn};

/// Every marker type and the `Object` impl.
pub(super) fn expand(model: &ObjectModel) -> TokenStream {
    let methods = model
        .methods
        .iter()
        .map(|method| method_marker(model, method));
    let object = object_impl(model);
    quote! {
        #(#methods)*
        #object
    }
}

fn method_marker(model: &ObjectModel, method: &MethodModel) -> TokenStream {
    let ObjectModel { krate, self_ty, .. } = model;
    let marker = marker(method);
    let wire_name = &method.wire_name;
    let idempotent = method.idempotent;
    let param_names = method.params.iter().map(|p| p.name.unraw().to_string());
    let param_types: Vec<_> = method.params.iter().map(|p| &p.ty).collect();
    let ok = method.output.ok_type();
    let name = &method.rust_name;
    let args = (0..method.params.len()).map(syn::Index::from);
    let ctx = method.takes_context.then(|| quote!(__goverse_ctx,));
    let convert = convert(krate, &method.output);
    let (trait_name, receiver) = match method.turn {
        Turn::Exclusive => (quote!(ExclusiveMethod), quote!(&'a mut #self_ty)),
        Turn::Shared => (quote!(SharedMethod), quote!(&'a #self_ty)),
    };
    quote! {
        struct #marker;

        #[automatically_derived]
        impl #krate::__private::Method for #marker {
            type Object = #self_ty;
            const NAME: &'static str = #wire_name;
            const PARAMS: &'static [&'static str] = &[#(#param_names),*];
            const IDEMPOTENT: bool = #idempotent;
            type Args = (#(#param_types,)*);
            type Output = #ok;

            fn schemas(
                __goverse_schemas: &mut #krate::__private::Schemas,
            ) -> #krate::__private::MethodSchemas {
                #krate::__private::method_schemas!(__goverse_schemas; #(#param_types),*; #ok)
            }
        }

        #[automatically_derived]
        impl #krate::__private::#trait_name for #marker {
            fn invoke<'a>(
                __goverse_this: #receiver,
                __goverse_ctx: &'a #krate::__private::Context,
                __goverse_args: <Self as #krate::__private::Method>::Args,
            ) -> impl ::core::future::Future<Output = #krate::__private::Result<#ok>> + ::core::marker::Send + 'a {
                async move { #convert(__goverse_this.#name(#ctx #(__goverse_args.#args),*).await) }
            }
        }
    }
}

/// The function that turns a method's return value into the proxy's `Result`, spanned on the
/// return type so that an error type without `Into<goverse::Error>` is reported there.
fn convert(krate: &syn::Path, output: &Output) -> TokenStream {
    match output {
        Output::Plain { .. } => quote!(#krate::__private::ok),
        Output::Result { span, .. } => flatten_at(krate, *span),
    }
}

/// `<krate>::__private::flatten`, every token spanned at `span` so that an error type without
/// `Into<goverse::Error>` is reported on the user's return type.
fn flatten_at(krate: &syn::Path, span: proc_macro2::Span) -> TokenStream {
    let krate: TokenStream = quote!(#krate)
        .into_iter()
        .map(|mut token| {
            token.set_span(span);
            token
        })
        .collect();
    quote_spanned!(span=> #krate::__private::flatten)
}

fn object_impl(model: &ObjectModel) -> TokenStream {
    let ObjectModel {
        krate,
        self_ty,
        proxy,
        wire_name,
        ..
    } = model;
    let entries = model.methods.iter().map(|method| {
        let marker = marker(method);
        match method.turn {
            Turn::Exclusive => quote!(#krate::__private::MethodEntry::exclusive::<#marker>()),
            Turn::Shared => quote!(#krate::__private::MethodEntry::shared::<#marker>()),
        }
    });
    let on_activate = model
        .on_activate
        .as_ref()
        .map(|hook| hook_fn(krate, quote!(on_activate), hook));
    let on_deactivate = model
        .on_deactivate
        .as_ref()
        .map(|hook| hook_fn(krate, quote!(on_deactivate), hook));
    let persistence = model.persist.as_ref().map(|persist| {
        let policy = match persist.policy {
            SavePolicyModel::NodeInterval => quote!(#krate::__private::SavePolicy::Periodic(
                ::core::option::Option::None
            )),
            SavePolicyModel::EveryTurn => quote!(#krate::__private::SavePolicy::EveryTurn),
            SavePolicyModel::Interval(millis) => quote!(#krate::__private::SavePolicy::Periodic(
                ::core::option::Option::Some(::core::time::Duration::from_millis(#millis))
            )),
        };
        // Spanned at `persist`, so a state type without serde is reported there.
        let glue = quote_spanned! {persist.span=>
            #krate::__private::persistence::<Self>(#policy)
        };
        quote! {
            const PERSISTENCE: ::core::option::Option<#krate::__private::Persistence<Self>> =
                ::core::option::Option::Some(#glue);
        }
    });
    quote! {
        #[automatically_derived]
        impl #krate::__private::Object for #self_ty {
            const TYPE_NAME: &'static str = #wire_name;
            #persistence
            type Proxy = #proxy;
            const METHODS: &'static [#krate::__private::MethodEntry<Self>] = &[#(#entries),*];

            fn construct(_id: &str) -> Self {
                <Self as ::core::default::Default>::default()
            }

            #on_activate
            #on_deactivate
        }
    }
}

fn hook_fn(krate: &syn::Path, trait_fn: TokenStream, hook: &HookModel) -> TokenStream {
    let name = &hook.rust_name;
    let ctx = hook.takes_context.then(|| quote!(__goverse_ctx));
    let convert = match hook.result_span {
        Some(span) => flatten_at(krate, span),
        None => quote!(#krate::__private::ok),
    };
    quote! {
        fn #trait_fn<'a>(
            &'a mut self,
            __goverse_ctx: &'a #krate::__private::Context,
        ) -> impl ::core::future::Future<Output = #krate::__private::Result<()>> + ::core::marker::Send + 'a {
            async move { #convert(self.#name(#ctx).await) }
        }
    }
}
