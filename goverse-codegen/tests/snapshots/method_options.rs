impl Counter {
    pub async fn increment(&mut self, by: u32) -> u32 {
        self.value += by;
        self.value
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
    const _: () = ::goverse::__private::assert_argument::<u32>();
    const _: () = ::goverse::__private::assert_output::<u32>();
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
        /// Calls `Counter.Increment` as an exclusive turn.
        pub async fn increment(&self, by: u32) -> ::goverse::__private::Result<u32> {
            self.handle.call_exclusive::<__goverse_method_increment>((by,)).await
        }
    }
    struct __goverse_method_increment;
    #[automatically_derived]
    impl ::goverse::__private::Method for __goverse_method_increment {
        type Object = Counter;
        const NAME: &'static str = "Increment";
        const PARAMS: &'static [&'static str] = &["by"];
        const IDEMPOTENT: bool = true;
        type Args = (u32,);
        type Output = u32;
        fn schemas(
            __goverse_schemas: &mut ::goverse::__private::Schemas,
        ) -> ::goverse::__private::MethodSchemas {
            ::goverse::__private::method_schemas!(__goverse_schemas; u32; u32)
        }
    }
    #[automatically_derived]
    impl ::goverse::__private::ExclusiveMethod for __goverse_method_increment {
        fn invoke<'a>(
            __goverse_this: &'a mut Counter,
            __goverse_ctx: &'a ::goverse::__private::Context,
            __goverse_args: <Self as ::goverse::__private::Method>::Args,
        ) -> impl ::core::future::Future<
            Output = ::goverse::__private::Result<u32>,
        > + ::core::marker::Send + 'a {
            async move {
                ::goverse::__private::ok(
                    __goverse_this.increment(__goverse_args.0).await,
                )
            }
        }
    }
    #[automatically_derived]
    impl ::goverse::__private::Object for Counter {
        const TYPE_NAME: &'static str = "Counter";
        type Proxy = CounterProxy;
        const METHODS: &'static [::goverse::__private::MethodEntry<Self>] = &[
            ::goverse::__private::MethodEntry::exclusive::<__goverse_method_increment>(),
        ];
        fn construct(_id: &str) -> Self {
            <Self as ::core::default::Default>::default()
        }
    }
    ::goverse::__private::inventory::submit! {
        ::goverse::__private::ObjectRegistration::of:: < Counter > ()
    }
};
