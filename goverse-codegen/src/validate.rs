//! Validation: applies every rule to the parsed input and builds the model. Each broken rule is
//! a spanned error that says how to fix it; all of them are reported together.

use std::collections::HashMap;

use proc_macro2::Span;
use quote::format_ident;
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{FnArg, ImplItemFn, Pat, Path, ReturnType, Signature, Type};

use crate::diagnostics::Diagnostics;
use crate::model::{
    HookModel, MethodModel, ObjectModel, Output, Param, PersistModel, SavePolicyModel, Turn,
};
use crate::parse::{Mark, Marked, Parsed, PersistArgs};

/// The most arguments a method may take (matches the runtime's `MAX_ARGS`).
const MAX_ARGS: usize = 12;

/// Applies the rules and builds the model, or returns every error found.
pub(crate) fn validate(parsed: Parsed<'_>, default_crate: Path) -> syn::Result<ObjectModel> {
    let Parsed {
        item,
        args,
        marked,
        mut diagnostics,
    } = parsed;

    if let Some((_, trait_path, _)) = &item.trait_ {
        diagnostics.error_at(
            trait_path,
            "#[goverse::object] goes on an inherent impl block, not a trait impl; \
             put the methods in `impl Type { ... }`",
        );
    }
    if let Some(unsafety) = &item.unsafety {
        diagnostics.error_at(
            unsafety,
            "#[goverse::object] cannot be used on an `unsafe impl`",
        );
    }
    if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
        diagnostics.error_at(
            &item.generics,
            "#[goverse::object] does not support generic impl blocks: an object type needs one \
             concrete type and one wire name; implement a concrete type",
        );
    }
    let type_ident = match &*item.self_ty {
        Type::Path(path) if path.qself.is_none() => match path.path.segments.last() {
            Some(segment) if segment.arguments.is_empty() => Some(segment.ident.clone()),
            Some(segment) => {
                diagnostics.error_at(
                    &segment.arguments,
                    "#[goverse::object] does not support generic types, even with concrete arguments: an \
                     object type needs one wire name; wrap the value in a non-generic struct",
                );
                None
            }
            None => None,
        },
        other => {
            diagnostics.error_at(
                other,
                "#[goverse::object] goes on the impl block of a named struct, e.g. `impl Counter`",
            );
            None
        }
    };

    let wire_name = match (&args.name, &type_ident) {
        (Some(name), _) => {
            check_wire_name(&name.value(), name.span(), "object type", &mut diagnostics);
            name.value()
        }
        (None, Some(ident)) => ident.unraw().to_string(),
        (None, None) => String::new(),
    };

    let persist = args
        .persist
        .as_ref()
        .and_then(|persist| persist_model(persist, &mut diagnostics));

    let mut methods = Vec::new();
    let mut on_activate = None;
    let mut on_deactivate = None;
    let mut wire_names: HashMap<String, ()> = HashMap::new();
    for marked in &marked {
        match marked.mark {
            Mark::Method => {
                if let Some(method) = method_model(marked, &item.self_ty, &mut diagnostics) {
                    if wire_names.insert(method.wire_name.clone(), ()).is_some() {
                        let at = marked
                            .name
                            .as_ref()
                            .map_or(marked.func.sig.ident.span(), |n| n.span());
                        diagnostics.push(syn::Error::new(
                            at,
                            format!(
                                "duplicate method name `{}`: another #[method] of this object already \
                                 uses it; give one of them another wire name with #[method(name = \"...\")]",
                                method.wire_name
                            ),
                        ));
                    }
                    methods.push(method);
                }
            }
            Mark::OnActivate => set_hook(&mut on_activate, marked, &mut diagnostics),
            Mark::OnDeactivate => set_hook(&mut on_deactivate, marked, &mut diagnostics),
        }
    }

    diagnostics.finish()?;
    let type_ident = type_ident.expect("a missing type name is reported above");
    Ok(ObjectModel {
        krate: args.krate.unwrap_or(default_crate),
        self_ty: (*item.self_ty).clone(),
        proxy: format_ident!("{}Proxy", type_ident),
        wire_name,
        persist,
        methods,
        on_activate,
        on_deactivate,
    })
}

fn persist_model(persist: &PersistArgs, diagnostics: &mut Diagnostics) -> Option<PersistModel> {
    let policy = match (&persist.every_turn, &persist.interval) {
        (None, None) => SavePolicyModel::NodeInterval,
        (Some(_), None) => SavePolicyModel::EveryTurn,
        (None, Some(interval)) => match parse_millis(&interval.value()) {
            Some(0) | None => {
                diagnostics.push(syn::Error::new(
                    interval.span(),
                    "`interval` must be a positive duration with a unit, e.g. \"500ms\", \"10s\", \"2m\"",
                ));
                return None;
            }
            Some(millis) => SavePolicyModel::Interval(millis),
        },
        (Some(every_turn), Some(_)) => {
            diagnostics.push(syn::Error::new(
                *every_turn,
                "`every_turn` and `interval` exclude each other: keep `every_turn` to save after \
                 each exclusive turn, or `interval` to save at most that often",
            ));
            return None;
        }
    };
    Some(PersistModel {
        span: persist.span,
        policy,
    })
}

/// Milliseconds in a duration written as a number and a unit (`ms`, `s`, `m`, `h`).
fn parse_millis(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let scale = match unit.trim() {
        "ms" => 1,
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        _ => return None,
    };
    number.checked_mul(scale)
}

fn check_wire_name(name: &str, span: Span, what: &str, diagnostics: &mut Diagnostics) {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-');
    if !valid {
        diagnostics.push(syn::Error::new(
            span,
            format!(
                "invalid {what} name {name:?}: use a non-empty name made of ASCII letters, digits, \
                 `_`, `.` or `-`"
            ),
        ));
    }
}

fn set_hook(slot: &mut Option<HookModel>, marked: &Marked<'_>, diagnostics: &mut Diagnostics) {
    let Some(hook) = hook_model(marked, diagnostics) else {
        return;
    };
    if slot.is_some() {
        diagnostics.error_at(
            marked.attr,
            format!(
                "an object has at most one {}; merge the two hooks",
                marked.mark.attribute()
            ),
        );
        return;
    }
    *slot = Some(hook);
}

/// Checks what every marked function needs: `async`, no `const`/`unsafe`/`extern`, no generics,
/// a `&self` or `&mut self` receiver. Returns the receiver's turn.
fn check_signature(func: &ImplItemFn, mark: Mark, diagnostics: &mut Diagnostics) -> Option<Turn> {
    let sig = &func.sig;
    let what = mark.attribute();
    if sig.asyncness.is_none() {
        diagnostics.error_at(
            sig.fn_token,
            format!("{what} functions must be `async fn`; add `async` before `fn`"),
        );
    }
    if let Some(constness) = &sig.constness {
        diagnostics.error_at(
            constness,
            format!("{what} functions cannot be `const`; remove `const`"),
        );
    }
    if let Some(unsafety) = &sig.unsafety {
        diagnostics.error_at(
            unsafety,
            format!("{what} functions cannot be `unsafe`; remove `unsafe`"),
        );
    }
    if let Some(abi) = &sig.abi {
        diagnostics.error_at(
            abi,
            format!("{what} functions cannot have an ABI; remove `extern`"),
        );
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        diagnostics.error_at(
            &sig.generics,
            format!(
                "{what} functions cannot be generic: arguments travel between nodes and need \
                 concrete types"
            ),
        );
    }
    match sig.inputs.first() {
        Some(FnArg::Receiver(receiver))
            if receiver.reference.is_some() && receiver.colon_token.is_none() =>
        {
            Some(if receiver.mutability.is_some() {
                Turn::Exclusive
            } else {
                Turn::Shared
            })
        }
        Some(FnArg::Receiver(receiver)) => {
            diagnostics.error_at(
                receiver,
                "write the receiver as `&self` (shared turn) or `&mut self` (exclusive turn); the \
                 runtime keeps the object, so it cannot be taken by value, in a box or with an \
                 explicit type",
            );
            None
        }
        _ => {
            diagnostics.error_at(
                &sig.ident,
                format!(
                    "{what} functions need a receiver: `&self` for a shared turn or `&mut self` \
                     for an exclusive turn"
                ),
            );
            None
        }
    }
}

/// Whether `ty` is (a reference to) `Context`; errors if it is taken other than by `&`.
fn context_param(ty: &Type, diagnostics: &mut Diagnostics) -> bool {
    match ty {
        Type::Reference(reference) if names_context(&reference.elem) => {
            if let Some(mutability) = &reference.mutability {
                diagnostics.error_at(
                    mutability,
                    "take the context by shared reference: `ctx: &Context`",
                );
            }
            true
        }
        other if names_context(other) => {
            diagnostics.error_at(other, "take the context by reference: `ctx: &Context`");
            true
        }
        _ => false,
    }
}

fn names_context(ty: &Type) -> bool {
    matches!(ty, Type::Path(path) if path.qself.is_none()
        && path.path.segments.last().is_some_and(|s| s.ident == "Context" && s.arguments.is_empty()))
}

/// The first part of `ty` that is not an owned, concrete type: a reference or `impl Trait`.
fn borrowed_part(ty: &Type) -> Option<&Type> {
    match ty {
        Type::Reference(_) | Type::ImplTrait(_) | Type::TraitObject(_) | Type::Infer(_) => Some(ty),
        Type::Paren(inner) => borrowed_part(&inner.elem),
        Type::Group(inner) => borrowed_part(&inner.elem),
        Type::Array(array) => borrowed_part(&array.elem),
        Type::Slice(slice) => borrowed_part(&slice.elem),
        Type::Tuple(tuple) => tuple.elems.iter().find_map(borrowed_part),
        Type::Path(path) => {
            path.path
                .segments
                .iter()
                .find_map(|segment| match &segment.arguments {
                    syn::PathArguments::AngleBracketed(args) => {
                        args.args.iter().find_map(|arg| match arg {
                            syn::GenericArgument::Type(ty) => borrowed_part(ty),
                            syn::GenericArgument::Lifetime(_) => Some(ty),
                            _ => None,
                        })
                    }
                    _ => None,
                })
        }
        _ => None,
    }
}

/// Reads the parameters after the receiver: the optional `&Context`, then named arguments.
fn params(sig: &Signature, mark: Mark, diagnostics: &mut Diagnostics) -> (bool, Vec<Param>) {
    let mut takes_context = false;
    let mut params = Vec::new();
    for (position, input) in sig.inputs.iter().skip(1).enumerate() {
        let FnArg::Typed(typed) = input else {
            continue;
        };
        if context_param(&typed.ty, diagnostics) {
            if position != 0 {
                diagnostics.error_at(
                    &typed.ty,
                    "the `&Context` parameter must come right after the receiver: \
                     `fn name(&self, ctx: &Context, ...)`",
                );
            }
            takes_context = true;
            continue;
        }
        if mark != Mark::Method {
            diagnostics.error_at(
                typed,
                format!(
                    "{} takes no arguments besides `ctx: &Context`",
                    mark.attribute()
                ),
            );
            continue;
        }
        let name = match &*typed.pat {
            Pat::Ident(ident) if ident.by_ref.is_none() && ident.subpat.is_none() => {
                Some(ident.ident.clone())
            }
            other => {
                diagnostics.error_at(
                    other,
                    "use a plain name for this argument (e.g. `point: Point`): arguments travel as \
                     named parameters, so patterns are not supported",
                );
                None
            }
        };
        if let Some(borrowed) = borrowed_part(&typed.ty) {
            diagnostics.error_at(
                borrowed,
                "method arguments must be owned, concrete types that can travel between nodes: \
                 use `String` instead of `&str`, `Vec<T>` instead of `&[T]`, and no `impl Trait`",
            );
            continue;
        }
        if params.len() == MAX_ARGS {
            diagnostics.error_at(
                typed,
                format!("a method takes at most {MAX_ARGS} arguments; group them into a struct"),
            );
            continue;
        }
        if let Some(name) = name {
            params.push(Param {
                name,
                ty: (*typed.ty).clone(),
            });
        }
    }
    (takes_context, params)
}

/// Reads the return type: a `Result<T, E>` (any path ending in `Result`) or a plain value.
fn output(sig: &Signature, diagnostics: &mut Diagnostics) -> Option<Output> {
    let ty = match &sig.output {
        ReturnType::Default => {
            return Some(Output::Plain {
                ty: syn::parse_quote!(()),
                span: sig.ident.span(),
            });
        }
        ReturnType::Type(_, ty) => ty,
    };
    if let Some(borrowed) = borrowed_part(ty) {
        diagnostics.error_at(
            borrowed,
            "method results must be owned, concrete types that can travel between nodes: return \
             `String` instead of `&str`, and no `impl Trait`",
        );
        return None;
    }
    let span = ty.span();
    if let Type::Path(path) = &**ty
        && let Some(segment) = path.path.segments.last()
        && segment.ident == "Result"
        && let syn::PathArguments::AngleBracketed(args) = &segment.arguments
        && let Some(syn::GenericArgument::Type(ok)) = args.args.first()
    {
        return Some(Output::Result {
            ok: ok.clone(),
            span,
        });
    }
    Some(Output::Plain {
        ty: (**ty).clone(),
        span,
    })
}

fn method_model(
    marked: &Marked<'_>,
    self_ty: &Type,
    diagnostics: &mut Diagnostics,
) -> Option<MethodModel> {
    let func = marked.func;
    let turn = check_signature(func, Mark::Method, diagnostics);
    let (takes_context, mut params) = params(&func.sig, Mark::Method, diagnostics);
    let mut output = output(&func.sig, diagnostics);
    // Generated code uses these types where `Self` means something else: spell the type out.
    let mut replace = ReplaceSelf(self_ty);
    for param in &mut params {
        replace.visit_type_mut(&mut param.ty);
    }
    if let Some(Output::Plain { ty, .. } | Output::Result { ok: ty, .. }) = &mut output {
        replace.visit_type_mut(ty);
    }
    let wire_name = match &marked.name {
        Some(name) => {
            check_wire_name(&name.value(), name.span(), "method", diagnostics);
            name.value()
        }
        None => func.sig.ident.unraw().to_string(),
    };
    Some(MethodModel {
        rust_name: func.sig.ident.clone(),
        wire_name,
        turn: turn?,
        takes_context,
        params,
        output: output?,
        idempotent: marked.idempotent,
        docs: func
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("doc"))
            .cloned()
            .collect(),
    })
}

fn hook_model(marked: &Marked<'_>, diagnostics: &mut Diagnostics) -> Option<HookModel> {
    let func = marked.func;
    let turn = check_signature(func, marked.mark, diagnostics);
    if turn == Some(Turn::Shared) {
        diagnostics.error_at(
            &func.sig.inputs[0],
            format!("{} takes `&mut self`", marked.mark.attribute()),
        );
    }
    let (takes_context, _) = params(&func.sig, marked.mark, diagnostics);
    let result_span = match &func.sig.output {
        ReturnType::Default => None,
        ReturnType::Type(_, ty) => match output(&func.sig, diagnostics) {
            Some(Output::Result { ok, span }) if matches!(&ok, Type::Tuple(t) if t.elems.is_empty()) => {
                Some(span)
            }
            Some(Output::Plain {
                ty: Type::Tuple(t), ..
            }) if t.elems.is_empty() => None,
            _ => {
                diagnostics.error_at(
                    ty,
                    format!(
                        "{} returns nothing or `Result<(), E>` where `E: Into<goverse::Error>`",
                        marked.mark.attribute()
                    ),
                );
                None
            }
        },
    };
    turn?;
    Some(HookModel {
        rust_name: func.sig.ident.clone(),
        takes_context,
        result_span,
    })
}

/// Replaces the type `Self` with the object's type.
struct ReplaceSelf<'a>(&'a Type);

impl VisitMut for ReplaceSelf<'_> {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        if matches!(ty, Type::Path(path) if path.qself.is_none() && path.path.is_ident("Self")) {
            *ty = self.0.clone();
        } else {
            syn::visit_mut::visit_type_mut(self, ty);
        }
    }
}
