impl Counter {
    /// Adds `n` and returns the new value.
    pub async fn add(&mut self, n: i64) -> i64 {
        self.value += n;
        self.value
    }
    /// The current value.
    pub async fn get(&self) -> i64 {
        self.value
    }
    /// Moves `n` to counter `to`.
    pub async fn give(
        &mut self,
        ctx: &Context,
        to: String,
        n: i64,
    ) -> Result<i64, goverse::Error> {
        if n > self.value {
            return Err(goverse::Error::app("insufficient", "not enough to give"));
        }
        ctx.object::<Counter>(&to).add(n).await?;
        self.value -= n;
        Ok(self.value)
    }
}
/// Typed proxy for `Counter` objects: one async method per `#[method]`; each call activates the object if needed and runs as one turn. Get one with `Node::object` or `Context::object`.
#[derive(::core::clone::Clone, ::core::fmt::Debug)]
pub struct CounterProxy {
    handle: ::goverse::__private::ObjectHandle,
}
#[allow(non_camel_case_types, unused_qualifications, clippy::all)]
const _: () = {
    const _: () = ::goverse::__private::assert_object_state::<Counter>();
    const _: () = ::goverse::__private::assert_argument::<i64>();
    const _: () = ::goverse::__private::assert_output::<i64>();
    const _: () = ::goverse::__private::assert_argument::<String>();
    #[automatically_derived]
    impl ::goverse::__private::Proxy for CounterProxy {
        fn from_handle(handle: ::goverse::__private::ObjectHandle) -> Self {
            CounterProxy { handle }
        }
        fn handle(&self) -> &::goverse::__private::ObjectHandle {
            &self.handle
        }
    }
    #[allow(private_interfaces)]
    impl CounterProxy {
        /// Adds `n` and returns the new value.
        ///
        /// Calls `Counter.add` as an exclusive turn.
        pub async fn add(&self, n: i64) -> ::goverse::__private::Result<i64> {
            self.handle.call_exclusive::<__goverse_method_add>((n,)).await
        }
        /// The current value.
        ///
        /// Calls `Counter.get` as a shared turn.
        pub async fn get(&self) -> ::goverse::__private::Result<i64> {
            self.handle.call_shared::<__goverse_method_get>(()).await
        }
        /// Moves `n` to counter `to`.
        ///
        /// Calls `Counter.give` as an exclusive turn.
        pub async fn give(
            &self,
            to: String,
            n: i64,
        ) -> ::goverse::__private::Result<i64> {
            self.handle.call_exclusive::<__goverse_method_give>((to, n)).await
        }
    }
    struct __goverse_method_add;
    #[automatically_derived]
    impl ::goverse::__private::Method for __goverse_method_add {
        type Object = Counter;
        const NAME: &'static str = "add";
        const PARAMS: &'static [&'static str] = &["n"];
        const IDEMPOTENT: bool = false;
        type Args = (i64,);
        type Output = i64;
        fn schemas(
            __goverse_schemas: &mut ::goverse::__private::Schemas,
        ) -> ::goverse::__private::MethodSchemas {
            ::goverse::__private::method_schemas!(__goverse_schemas; i64; i64)
        }
    }
    #[automatically_derived]
    impl ::goverse::__private::ExclusiveMethod for __goverse_method_add {
        fn invoke<'a>(
            __goverse_this: &'a mut Counter,
            __goverse_ctx: &'a ::goverse::__private::Context,
            __goverse_args: <Self as ::goverse::__private::Method>::Args,
        ) -> impl ::core::future::Future<
            Output = ::goverse::__private::Result<i64>,
        > + ::core::marker::Send + 'a {
            async move {
                ::goverse::__private::ok(__goverse_this.add(__goverse_args.0).await)
            }
        }
    }
    struct __goverse_method_get;
    #[automatically_derived]
    impl ::goverse::__private::Method for __goverse_method_get {
        type Object = Counter;
        const NAME: &'static str = "get";
        const PARAMS: &'static [&'static str] = &[];
        const IDEMPOTENT: bool = false;
        type Args = ();
        type Output = i64;
        fn schemas(
            __goverse_schemas: &mut ::goverse::__private::Schemas,
        ) -> ::goverse::__private::MethodSchemas {
            ::goverse::__private::method_schemas!(__goverse_schemas;; i64)
        }
    }
    #[automatically_derived]
    impl ::goverse::__private::SharedMethod for __goverse_method_get {
        fn invoke<'a>(
            __goverse_this: &'a Counter,
            __goverse_ctx: &'a ::goverse::__private::Context,
            __goverse_args: <Self as ::goverse::__private::Method>::Args,
        ) -> impl ::core::future::Future<
            Output = ::goverse::__private::Result<i64>,
        > + ::core::marker::Send + 'a {
            async move { ::goverse::__private::ok(__goverse_this.get().await) }
        }
    }
    struct __goverse_method_give;
    #[automatically_derived]
    impl ::goverse::__private::Method for __goverse_method_give {
        type Object = Counter;
        const NAME: &'static str = "give";
        const PARAMS: &'static [&'static str] = &["to", "n"];
        const IDEMPOTENT: bool = false;
        type Args = (String, i64);
        type Output = i64;
        fn schemas(
            __goverse_schemas: &mut ::goverse::__private::Schemas,
        ) -> ::goverse::__private::MethodSchemas {
            ::goverse::__private::method_schemas!(__goverse_schemas; String, i64; i64)
        }
    }
    #[automatically_derived]
    impl ::goverse::__private::ExclusiveMethod for __goverse_method_give {
        fn invoke<'a>(
            __goverse_this: &'a mut Counter,
            __goverse_ctx: &'a ::goverse::__private::Context,
            __goverse_args: <Self as ::goverse::__private::Method>::Args,
        ) -> impl ::core::future::Future<
            Output = ::goverse::__private::Result<i64>,
        > + ::core::marker::Send + 'a {
            async move {
                ::goverse::__private::flatten(
                    __goverse_this
                        .give(__goverse_ctx, __goverse_args.0, __goverse_args.1)
                        .await,
                )
            }
        }
    }
    #[automatically_derived]
    impl ::goverse::__private::Object for Counter {
        const TYPE_NAME: &'static str = "Counter";
        type Proxy = CounterProxy;
        const METHODS: &'static [::goverse::__private::MethodEntry<Self>] = &[
            ::goverse::__private::MethodEntry::exclusive::<__goverse_method_add>(),
            ::goverse::__private::MethodEntry::shared::<__goverse_method_get>(),
            ::goverse::__private::MethodEntry::exclusive::<__goverse_method_give>(),
        ];
        fn construct(_id: &str) -> Self {
            <Self as ::core::default::Default>::default()
        }
    }
    ::goverse::__private::inventory::submit! {
        ::goverse::__private::ObjectRegistration::of:: < Counter > ()
    }
};
