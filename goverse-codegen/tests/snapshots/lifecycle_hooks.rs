impl Session {
    async fn load(&mut self, ctx: &Context) -> Result<(), goverse::Error> {
        self.loaded = ctx.remaining().as_millis() > 0;
        Ok(())
    }
    async fn flush(&mut self) {
        self.loaded = false;
    }
    pub async fn loaded(&self) -> bool {
        self.loaded
    }
}
/// Typed proxy for `Session` objects: one async method per `#[method]`; each call activates the object if needed and runs as one turn. Get one with `Node::object` or `Context::object`.
#[derive(::core::clone::Clone, ::core::fmt::Debug)]
pub struct SessionProxy {
    handle: ::goverse::__private::ObjectHandle,
}
#[allow(non_camel_case_types, unused_qualifications, clippy::all)]
const _: () = {
    const _: () = ::goverse::__private::assert_object_state::<Session>();
    const _: () = ::goverse::__private::assert_output::<bool>();
    #[automatically_derived]
    impl ::goverse::__private::Proxy for SessionProxy {
        fn from_handle(handle: ::goverse::__private::ObjectHandle) -> Self {
            SessionProxy { handle }
        }
        fn handle(&self) -> &::goverse::__private::ObjectHandle {
            &self.handle
        }
    }
    #[allow(private_interfaces)]
    impl SessionProxy {
        /// Calls `Session.loaded` as a shared turn.
        pub async fn loaded(&self) -> ::goverse::__private::Result<bool> {
            self.handle.call_shared::<__goverse_method_loaded>(()).await
        }
    }
    struct __goverse_method_loaded;
    #[automatically_derived]
    impl ::goverse::__private::Method for __goverse_method_loaded {
        type Object = Session;
        const NAME: &'static str = "loaded";
        const PARAMS: &'static [&'static str] = &[];
        const IDEMPOTENT: bool = false;
        type Args = ();
        type Output = bool;
        fn schemas(
            __goverse_schemas: &mut ::goverse::__private::Schemas,
        ) -> ::goverse::__private::MethodSchemas {
            ::goverse::__private::method_schemas!(__goverse_schemas;; bool)
        }
    }
    #[automatically_derived]
    impl ::goverse::__private::SharedMethod for __goverse_method_loaded {
        fn invoke<'a>(
            __goverse_this: &'a Session,
            __goverse_ctx: &'a ::goverse::__private::Context,
            __goverse_args: <Self as ::goverse::__private::Method>::Args,
        ) -> impl ::core::future::Future<
            Output = ::goverse::__private::Result<bool>,
        > + ::core::marker::Send + 'a {
            async move { ::goverse::__private::ok(__goverse_this.loaded().await) }
        }
    }
    #[automatically_derived]
    impl ::goverse::__private::Object for Session {
        const TYPE_NAME: &'static str = "Session";
        type Proxy = SessionProxy;
        const METHODS: &'static [::goverse::__private::MethodEntry<Self>] = &[
            ::goverse::__private::MethodEntry::shared::<__goverse_method_loaded>(),
        ];
        fn construct(_id: &str) -> Self {
            <Self as ::core::default::Default>::default()
        }
        fn on_activate<'a>(
            &'a mut self,
            __goverse_ctx: &'a ::goverse::__private::Context,
        ) -> impl ::core::future::Future<
            Output = ::goverse::__private::Result<()>,
        > + ::core::marker::Send + 'a {
            async move { ::goverse::__private::flatten(self.load(__goverse_ctx).await) }
        }
        fn on_deactivate<'a>(
            &'a mut self,
            __goverse_ctx: &'a ::goverse::__private::Context,
        ) -> impl ::core::future::Future<
            Output = ::goverse::__private::Result<()>,
        > + ::core::marker::Send + 'a {
            async move { ::goverse::__private::ok(self.flush().await) }
        }
    }
    ::goverse::__private::inventory::submit! {
        ::goverse::__private::ObjectRegistration::of:: < Session > ()
    }
};
