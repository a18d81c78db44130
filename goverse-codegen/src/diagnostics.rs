//! Collects every error of one expansion, so the user sees them all at once.

/// An accumulator of spanned errors.
#[derive(Default)]
pub(crate) struct Diagnostics {
    error: Option<syn::Error>,
}

impl Diagnostics {
    /// Records an error at the span of `tokens`.
    pub(crate) fn error_at(
        &mut self,
        tokens: impl quote::ToTokens,
        message: impl std::fmt::Display,
    ) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    /// Records an error.
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.error {
            Some(existing) => existing.combine(error),
            None => self.error = Some(error),
        }
    }

    /// All recorded errors, combined, or `Ok` if there were none.
    pub(crate) fn finish(self) -> syn::Result<()> {
        match self.error {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}
