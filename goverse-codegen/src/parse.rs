//! Parsing: turns the attribute's options and the impl block's marked functions into raw input.
//! No rule is applied here beyond what is needed to read the syntax.

use proc_macro2::TokenStream;
use syn::parse::Parser;
use syn::{Attribute, ImplItem, ImplItemFn, ItemImpl, LitStr, Path};

use crate::diagnostics::Diagnostics;

/// The options of `#[goverse::object(...)]`.
#[derive(Default)]
pub(crate) struct ObjectArgs {
    /// `name = "..."`.
    pub(crate) name: Option<LitStr>,
    /// `persist` or `persist(...)`.
    pub(crate) persist: Option<PersistArgs>,
    /// `crate = path`.
    pub(crate) krate: Option<Path>,
}

/// The options of `persist(...)`.
pub(crate) struct PersistArgs {
    /// The `persist` keyword, where errors about persistence point.
    pub(crate) span: proc_macro2::Span,
    /// `every_turn`.
    pub(crate) every_turn: Option<proc_macro2::Span>,
    /// `interval = "10s"`.
    pub(crate) interval: Option<LitStr>,
}

/// Which goverse attribute marks a function.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mark {
    /// `#[method]`.
    Method,
    /// `#[on_activate]`.
    OnActivate,
    /// `#[on_deactivate]`.
    OnDeactivate,
}

impl Mark {
    pub(crate) fn attribute(self) -> &'static str {
        match self {
            Mark::Method => "#[method]",
            Mark::OnActivate => "#[on_activate]",
            Mark::OnDeactivate => "#[on_deactivate]",
        }
    }
}

/// A function of the impl block carrying one of goverse's attributes.
pub(crate) struct Marked<'a> {
    /// Which attribute.
    pub(crate) mark: Mark,
    /// The attribute itself (for spans).
    pub(crate) attr: &'a Attribute,
    /// The function.
    pub(crate) func: &'a ImplItemFn,
    /// `#[method(name = "...")]`.
    pub(crate) name: Option<LitStr>,
    /// `#[method(idempotent)]`.
    pub(crate) idempotent: bool,
}

/// Everything read from one `#[goverse::object]` use.
pub(crate) struct Parsed<'a> {
    /// The impl block.
    pub(crate) item: &'a ItemImpl,
    /// The object options.
    pub(crate) args: ObjectArgs,
    /// The marked functions, in order.
    pub(crate) marked: Vec<Marked<'a>>,
    /// Errors found while reading.
    pub(crate) diagnostics: Diagnostics,
}

/// Reads the options and the marked functions.
pub(crate) fn parse(attr: TokenStream, item: &ItemImpl) -> Parsed<'_> {
    let mut diagnostics = Diagnostics::default();
    let args = parse_object_args(attr).unwrap_or_else(|error| {
        diagnostics.push(error);
        ObjectArgs::default()
    });
    let mut marked = Vec::new();
    for impl_item in &item.items {
        match impl_item {
            ImplItem::Fn(func) => {
                let mut marks = func
                    .attrs
                    .iter()
                    .filter_map(|attr| Some((mark_of(attr)?, attr)));
                let Some((mark, attr)) = marks.next() else {
                    continue;
                };
                for (_, extra) in marks {
                    diagnostics.error_at(
                        extra,
                        "a function can carry only one of #[method], #[on_activate] and \
                         #[on_deactivate]; remove this one",
                    );
                }
                match parse_mark_args(mark, attr) {
                    Ok((name, idempotent)) => marked.push(Marked {
                        mark,
                        attr,
                        func,
                        name,
                        idempotent,
                    }),
                    Err(error) => diagnostics.push(error),
                }
            }
            other => {
                for attr in item_attrs(other) {
                    if let Some(mark) = mark_of(attr) {
                        diagnostics.error_at(
                            attr,
                            format!(
                                "{} goes on an `async fn` of the impl block",
                                mark.attribute()
                            ),
                        );
                    }
                }
            }
        }
    }
    Parsed {
        item,
        args,
        marked,
        diagnostics,
    }
}

fn item_attrs(item: &ImplItem) -> &[Attribute] {
    match item {
        ImplItem::Const(c) => &c.attrs,
        ImplItem::Type(t) => &t.attrs,
        ImplItem::Macro(m) => &m.attrs,
        _ => &[],
    }
}

/// Which goverse attribute `attr` is, if any: `method`, `goverse::method`, or the same through
/// a renamed crate (`gv::method`).
pub(crate) fn mark_of(attr: &Attribute) -> Option<Mark> {
    let path = attr.path();
    let last = path.segments.last()?;
    if path.segments.len() > 2 {
        return None;
    }
    match last.ident.to_string().as_str() {
        "method" => Some(Mark::Method),
        "on_activate" => Some(Mark::OnActivate),
        "on_deactivate" => Some(Mark::OnDeactivate),
        _ => None,
    }
}

fn parse_object_args(attr: TokenStream) -> syn::Result<ObjectArgs> {
    let mut args = ObjectArgs::default();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("name") {
            if args.name.is_some() {
                return Err(meta.error("`name` is given twice; keep one"));
            }
            args.name = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("persist") {
            if args.persist.is_some() {
                return Err(meta.error("`persist` is given twice; keep one"));
            }
            args.persist = Some(parse_persist_args(&meta)?);
        } else if meta.path.is_ident("crate") {
            if args.krate.is_some() {
                return Err(meta.error("`crate` is given twice; keep one"));
            }
            args.krate = Some(meta.value()?.parse()?);
        } else {
            let key = meta
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            return Err(meta.error(format!(
                "unknown option `{key}` for #[goverse::object]; expected one of: `name`, `persist`, `crate`"
            )));
        }
        Ok(())
    });
    parser.parse2(attr)?;
    Ok(args)
}

fn parse_persist_args(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<PersistArgs> {
    let mut persist = PersistArgs {
        span: syn::spanned::Spanned::span(&meta.path),
        every_turn: None,
        interval: None,
    };
    if !meta.input.peek(syn::token::Paren) {
        return Ok(persist);
    }
    meta.parse_nested_meta(|option| {
        if option.path.is_ident("every_turn") {
            if persist.every_turn.is_some() {
                return Err(option.error("`every_turn` is given twice; keep one"));
            }
            persist.every_turn = Some(syn::spanned::Spanned::span(&option.path));
        } else if option.path.is_ident("interval") {
            if persist.interval.is_some() {
                return Err(option.error("`interval` is given twice; keep one"));
            }
            persist.interval = Some(option.value()?.parse()?);
        } else {
            let key = option
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            return Err(option.error(format!(
                "unknown option `{key}` for `persist`; expected `every_turn` or `interval = \"10s\"`"
            )));
        }
        Ok(())
    })?;
    Ok(persist)
}

fn parse_mark_args(mark: Mark, attr: &Attribute) -> syn::Result<(Option<LitStr>, bool)> {
    let mut name = None;
    let mut idempotent = false;
    match &attr.meta {
        syn::Meta::Path(_) => {}
        syn::Meta::NameValue(nv) => {
            return Err(syn::Error::new_spanned(
                nv,
                format!(
                    "{} takes options in parentheses, e.g. #[method(name = \"Add\")]",
                    mark.attribute()
                ),
            ));
        }
        syn::Meta::List(_) if mark != Mark::Method => {
            return Err(syn::Error::new_spanned(
                attr,
                format!(
                    "{} takes no options; write it as {}",
                    mark.attribute(),
                    mark.attribute()
                ),
            ));
        }
        syn::Meta::List(_) => attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                if name.is_some() {
                    return Err(meta.error("`name` is given twice; keep one"));
                }
                name = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("idempotent") {
                if idempotent {
                    return Err(meta.error("`idempotent` is given twice; keep one"));
                }
                idempotent = true;
            } else {
                let key = meta
                    .path
                    .get_ident()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                return Err(meta.error(format!(
                    "unknown option `{key}` for #[method]; expected `name` or `idempotent`"
                )));
            }
            Ok(())
        })?,
    }
    Ok((name, idempotent))
}
