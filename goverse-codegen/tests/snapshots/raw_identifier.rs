impl Token {
    pub async fn r#type(&self, r#in: String) -> String {
        format!("{}:{}", self.kind, r#in)
    }
}
/// Typed proxy for `Token` objects: one async method per `#[method]`; each call activates the object if needed and runs as one turn. Get one with `Node::object` or `Context::object`.
#[derive(::core::clone::Clone, ::core::fmt::Debug)]
pub struct TokenProxy {
    handle: ::goverse::__private::ObjectHandle,
}
#[allow(non_camel_case_types, unused_qualifications, clippy::all)]
const _: () = {
    const _: () = ::goverse::__private::assert_object_state::<Token>();
    const _: () = ::goverse::__private::assert_argument::<String>();
    const _: () = ::goverse::__private::assert_output::<String>();
    #[automatically_derived]
    impl ::goverse::__private::Proxy for TokenProxy {
        fn from_handle(handle: ::goverse::__private::ObjectHandle) -> Self {
            TokenProxy { handle }
        }
        fn handle(&self) -> &::goverse::__private::ObjectHandle {
            &self.handle
        }
    }
    #[allow(private_interfaces)]
    impl TokenProxy {
        /// Calls `Token.type` as a shared turn.
        pub async fn r#type(
            &self,
            r#in: String,
        ) -> ::goverse::__private::Result<String> {
            self.handle.call_shared::<__goverse_method_type>((r#in,)).await
        }
    }
    struct __goverse_method_type;
    #[automatically_derived]
    impl ::goverse::__private::Method for __goverse_method_type {
        type Object = Token;
        const NAME: &'static str = "type";
        const PARAMS: &'static [&'static str] = &["in"];
        const IDEMPOTENT: bool = false;
        type Args = (String,);
        type Output = String;
        fn schemas(
            __goverse_schemas: &mut ::goverse::__private::Schemas,
        ) -> ::goverse::__private::MethodSchemas {
            ::goverse::__private::method_schemas!(__goverse_schemas; String; String)
        }
    }
    #[automatically_derived]
    impl ::goverse::__private::SharedMethod for __goverse_method_type {
        fn invoke<'a>(
            __goverse_this: &'a Token,
            __goverse_ctx: &'a ::goverse::__private::Context,
            __goverse_args: <Self as ::goverse::__private::Method>::Args,
        ) -> impl ::core::future::Future<
            Output = ::goverse::__private::Result<String>,
        > + ::core::marker::Send + 'a {
            async move {
                ::goverse::__private::ok(__goverse_this.r#type(__goverse_args.0).await)
            }
        }
    }
    #[automatically_derived]
    impl ::goverse::__private::Object for Token {
        const TYPE_NAME: &'static str = "Token";
        type Proxy = TokenProxy;
        const METHODS: &'static [::goverse::__private::MethodEntry<Self>] = &[
            ::goverse::__private::MethodEntry::shared::<__goverse_method_type>(),
        ];
        fn construct(_id: &str) -> Self {
            <Self as ::core::default::Default>::default()
        }
    }
    ::goverse::__private::inventory::submit! {
        ::goverse::__private::ObjectRegistration::of:: < Token > ()
    }
};
