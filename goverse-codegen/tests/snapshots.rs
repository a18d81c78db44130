//! Golden expansion snapshots of `#[goverse::object]`, plus structural checks on the error path
//! and on how the generated code names the runtime.
//!
//! Each case expands an impl block with `goverse_codegen::expand_object`, pretty-prints the result
//! with `prettyplease` and compares it with `tests/snapshots/<case>.rs`. After changing the
//! expansion, rerun with `GOVERSE_SNAPSHOTS=overwrite` and review the diff of the snapshot files.

use std::path::Path;

use proc_macro2::{Spacing, TokenStream, TokenTree};
use quote::{ToTokens, quote};

/// Expands `#[goverse::object(attr)] item` as `goverse-macros` does for a crate named `goverse`.
fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    goverse_codegen::expand_object(attr, item, syn::parse_quote!(::goverse))
}

/// Expands the case, pretty-prints it, and compares it with (or, with
/// `GOVERSE_SNAPSHOTS=overwrite`, writes) `tests/snapshots/<case>.rs`.
fn assert_snapshot(case: &str, attr: TokenStream, item: TokenStream) {
    let expanded = expand(attr, item);
    let file: syn::File = syn::parse2(expanded.clone()).unwrap_or_else(|error| {
        panic!("{case}: the expansion is not valid Rust: {error}\n{expanded}")
    });
    let actual = prettyplease::unparse(&file);
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(format!("{case}.rs"));
    if std::env::var("GOVERSE_SNAPSHOTS").as_deref() == Ok("overwrite") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &actual).unwrap();
        return;
    }
    let rerun = "rerun with `GOVERSE_SNAPSHOTS=overwrite cargo test -p goverse-codegen --test \
                 snapshots` and review the diff of the snapshot files";
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "{case}: cannot read snapshot {}: {error}; {rerun}",
            path.display()
        )
    });
    if expected == actual {
        return;
    }
    let (expected_lines, actual_lines): (Vec<_>, Vec<_>) =
        (expected.lines().collect(), actual.lines().collect());
    let line = (0..expected_lines.len().max(actual_lines.len()))
        .find(|&i| expected_lines.get(i) != actual_lines.get(i))
        .unwrap_or(0);
    panic!(
        "{case}: the expansion differs from {} at line {}:\n  snapshot:  {:?}\n  expansion: {:?}\n\
         {rerun}\n\nfull expansion:\n{actual}",
        path.display(),
        line + 1,
        expected_lines.get(line).copied().unwrap_or("<end of file>"),
        actual_lines.get(line).copied().unwrap_or("<end of file>"),
    );
}

/// The counter of the design document: exclusive, shared, and context + `Result` methods.
fn counter() -> TokenStream {
    quote! {
        impl Counter {
            /// Adds `n` and returns the new value.
            #[method]
            pub async fn add(&mut self, n: i64) -> i64 {
                self.value += n;
                self.value
            }

            /// The current value.
            #[method]
            pub async fn get(&self) -> i64 {
                self.value
            }

            /// Moves `n` to counter `to`.
            #[method]
            pub async fn give(&mut self, ctx: &Context, to: String, n: i64) -> Result<i64, goverse::Error> {
                if n > self.value {
                    return Err(goverse::Error::app("insufficient", "not enough to give"));
                }
                ctx.object::<Counter>(&to).add(n).await?;
                self.value -= n;
                Ok(self.value)
            }
        }
    }
}

#[test]
fn snapshot_counter() {
    assert_snapshot("counter", quote!(), counter());
}

#[test]
fn snapshot_object_options() {
    assert_snapshot(
        "object_options",
        quote!(name = "Wallet", persist, crate = ::my::reexport),
        quote! {
            impl Purse {
                #[method]
                pub async fn deposit(&mut self, amount: u64) -> u64 {
                    self.balance += amount;
                    self.balance
                }
            }
        },
    );
}

#[test]
fn snapshot_save_policies() {
    for (case, attr) in [
        ("persist_every_turn", quote!(persist(every_turn))),
        ("persist_interval", quote!(persist(interval = "1500ms"))),
    ] {
        assert_snapshot(
            case,
            attr,
            quote! {
                impl Ledger {
                    #[method]
                    pub async fn post(&mut self, amount: i64) -> i64 {
                        self.total += amount;
                        self.total
                    }
                }
            },
        );
    }
}

#[test]
fn snapshot_method_options() {
    assert_snapshot(
        "method_options",
        quote!(),
        quote! {
            impl Counter {
                #[method(name = "Increment", idempotent)]
                pub async fn increment(&mut self, by: u32) -> u32 {
                    self.value += by;
                    self.value
                }
            }
        },
    );
}

#[test]
fn snapshot_lifecycle_hooks() {
    assert_snapshot(
        "lifecycle_hooks",
        quote!(),
        quote! {
            impl Session {
                #[on_activate]
                async fn load(&mut self, ctx: &Context) -> Result<(), goverse::Error> {
                    self.loaded = ctx.remaining().as_millis() > 0;
                    Ok(())
                }

                #[on_deactivate]
                async fn flush(&mut self) {
                    self.loaded = false;
                }

                #[method]
                pub async fn loaded(&self) -> bool {
                    self.loaded
                }
            }
        },
    );
}

#[test]
fn snapshot_unit_method() {
    assert_snapshot(
        "unit_method",
        quote!(),
        quote! {
            impl Counter {
                #[method]
                pub async fn reset(&mut self) {
                    self.value = 0;
                }
            }
        },
    );
}

#[test]
fn snapshot_raw_identifier() {
    assert_snapshot(
        "raw_identifier",
        quote!(),
        quote! {
            impl Token {
                #[method]
                pub async fn r#type(&self, r#in: String) -> String {
                    format!("{}:{}", self.kind, r#in)
                }
            }
        },
    );
}

/// Every snapshot file on disk is Rust that `syn` parses (they are read back, not regenerated).
#[test]
fn snapshot_files_parse() {
    if std::env::var("GOVERSE_SNAPSHOTS").as_deref() == Ok("overwrite") {
        return; // the other tests are rewriting the files right now
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let source = std::fs::read_to_string(&path).unwrap();
        if let Err(error) = syn::parse_file(&source) {
            panic!("{} is not valid Rust: {error}", path.display());
        }
        count += 1;
    }
    assert!(
        count >= 6,
        "expected at least 6 snapshots in {}",
        dir.display()
    );
}

/// Two errors in one impl block: the output is the user's impl (without goverse's attributes)
/// and one `compile_error!` per error, nothing else.
#[test]
fn errors_keep_the_impl_block_and_report_each_error() {
    let expanded = expand(
        quote!(),
        quote! {
            impl Counter {
                /// Not async.
                #[method]
                pub fn get(&self) -> i64 {
                    self.value
                }

                #[method]
                pub async fn greet(&self, name: &str) -> String {
                    format!("hello {name}")
                }
            }
        },
    );
    let file: syn::File = syn::parse2(expanded.clone()).expect("the error expansion parses");
    let compile_errors = file
        .items
        .iter()
        .filter(|item| {
            matches!(item, syn::Item::Macro(m)
                if m.mac.path.segments.last().is_some_and(|s| s.ident == "compile_error"))
        })
        .count();
    assert_eq!(
        compile_errors, 2,
        "expected two compile_error! in:\n{expanded}"
    );

    let impls: Vec<_> = file
        .items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Impl(item_impl) => Some(item_impl),
            _ => None,
        })
        .collect();
    assert_eq!(
        impls.len(),
        1,
        "expected the user's impl block in:\n{expanded}"
    );
    assert_eq!(
        file.items.len(),
        3,
        "expected only the impl and the errors in:\n{expanded}"
    );
    let item_impl = impls[0];
    assert_eq!(item_impl.self_ty.to_token_stream().to_string(), "Counter");
    let fns: Vec<_> = item_impl
        .items
        .iter()
        .filter_map(|item| match item {
            syn::ImplItem::Fn(func) => Some(func),
            _ => None,
        })
        .collect();
    let names: Vec<_> = fns.iter().map(|f| f.sig.ident.to_string()).collect();
    assert_eq!(names, ["get", "greet"]);
    for func in fns {
        for attr in &func.attrs {
            assert!(
                attr.path().is_ident("doc"),
                "`{}` kept the attribute `{}`",
                func.sig.ident,
                attr.to_token_stream()
            );
        }
    }
    assert_eq!(item_impl.items.len(), 2);
}

/// Every path in `tokens` that starts with `::`, as a string such as `::core::marker::Send`, and
/// every `goverse` identifier that is not right after a leading `::`.
fn absolute_paths(tokens: TokenStream, paths: &mut Vec<String>, bare: &mut Vec<String>) {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let is_colons = |i: usize| {
        matches!((trees.get(i), trees.get(i + 1)),
            (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b)))
                if a.as_char() == ':' && a.spacing() == Spacing::Joint && b.as_char() == ':')
    };
    // Whether the `::` at `i` continues a path (`a::b`, `<T as X>::Y`, `f::<T>`) rather than
    // starting one (`-> ::core`, `impl ::core`, `(::core`, start of stream).
    let continues = |i: usize| match i.checked_sub(1).map(|p| (p, &trees[p])) {
        None => false,
        // A lifetime (`&'a ::core::X`) or a keyword (`impl ::core::X`) comes before a new path.
        Some((p, TokenTree::Ident(ident))) => {
            let name = ident.to_string();
            let lifetime = matches!(p.checked_sub(1).map(|q| &trees[q]),
                Some(TokenTree::Punct(tick)) if tick.as_char() == '\'');
            !lifetime
                && (["self", "Self", "super", "crate"].contains(&name.as_str())
                    || syn::parse_str::<syn::Ident>(&name).is_ok())
        }
        Some((p, TokenTree::Punct(punct))) if punct.as_char() == '>' => !matches!(
            p.checked_sub(1).map(|q| &trees[q]),
            Some(TokenTree::Punct(prev))
                if matches!(prev.as_char(), '-' | '=') && prev.spacing() == Spacing::Joint
        ),
        Some(_) => false,
    };
    // The `::a::b::c` segments from the `::` at `j` on, and the index after them.
    let segments = |mut j: usize| {
        let mut path = String::new();
        while let (true, Some(TokenTree::Ident(segment))) = (is_colons(j), trees.get(j + 2)) {
            path.push_str(&format!("::{segment}"));
            j += 3;
        }
        (path, j)
    };
    let mut i = 0;
    while i < trees.len() {
        if is_colons(i) && !continues(i) {
            let (path, next) = segments(i);
            paths.push(path);
            i = next.max(i + 2);
            continue;
        }
        match &trees[i] {
            TokenTree::Group(group) => absolute_paths(group.stream(), paths, bare),
            TokenTree::Ident(ident) if ident == "goverse" => {
                bare.push(format!("goverse{}", segments(i + 1).0));
            }
            _ => {}
        }
        i += 1;
    }
}

/// The counter's generated code names the runtime only through `::goverse::__private` and
/// `::core`: no `::std`, `::serde` or `::inventory`, and no bare `goverse::`.
#[test]
fn counter_names_the_runtime_only_through_private_and_core() {
    let expanded = expand(quote!(), counter());
    let file: syn::File = syn::parse2(expanded).expect("the expansion parses");
    // The user's impl block is re-emitted as written (it says `goverse::Error`); check the rest.
    let user_impl = syn::parse2::<syn::ItemImpl>(counter()).unwrap();
    let generated: TokenStream = file
        .items
        .iter()
        .filter(|item| match item {
            syn::Item::Impl(item_impl) => {
                item_impl.self_ty != user_impl.self_ty || item_impl.trait_.is_some()
            }
            _ => true,
        })
        .map(ToTokens::to_token_stream)
        .collect();
    assert_eq!(
        file.items.len(),
        3,
        "expected the user's impl, the proxy and one hidden const block"
    );

    let (mut paths, mut bare) = (Vec::new(), Vec::new());
    absolute_paths(generated, &mut paths, &mut bare);
    assert!(
        paths
            .iter()
            .any(|p| p.starts_with("::goverse::__private::")),
        "the walk found no runtime path at all: {paths:?}"
    );
    let offending: Vec<_> = paths
        .iter()
        .filter(|p| !(p.starts_with("::goverse::__private::") || p.starts_with("::core::")))
        .collect();
    assert!(
        offending.is_empty(),
        "paths outside `::goverse::__private` and `::core`: {offending:?}"
    );
    assert!(
        bare.is_empty(),
        "`goverse` named without a leading `::`: {bare:?}"
    );
}

/// The walk itself finds leading `::` paths after `->`, `&'a`, keywords and `<`, and bare
/// `goverse`, so that the test above cannot pass by finding nothing.
#[test]
fn path_walk_finds_offenders() {
    let tokens = quote! {
        fn f<'a>(x: &'a ::std::string::String) -> ::serde::Value {
            let _ = <T as ::inventory::Collect>::registry();
            let _: impl ::core::marker::Send = goverse::Error::app();
            ::goverse::__private::ok(a::b::<c>::d)
        }
    };
    let (mut paths, mut bare) = (Vec::new(), Vec::new());
    absolute_paths(tokens, &mut paths, &mut bare);
    assert_eq!(
        paths,
        [
            "::std::string::String",
            "::serde::Value",
            "::inventory::Collect",
            "::core::marker::Send",
            "::goverse::__private::ok",
        ]
    );
    assert_eq!(bare, ["goverse::Error::app"]);
}
