impl Ledger {
    pub async fn post(&mut self, amount: i64) -> i64 {
        self.total += amount;
        self.total
    }
}
/// Typed proxy for `Ledger` objects: one async method per `#[method]`; each call activates the object if needed and runs as one turn. Get one with `Node::object` or `Context::object`.
#[derive(::core::clone::Clone, ::core::fmt::Debug)]
pub struct LedgerProxy {
    handle: ::goverse::__private::ObjectHandle,
}
#[allow(non_camel_case_types, unused_qualifications, clippy::all)]
const _: () = {
    const _: () = ::goverse::__private::assert_object_state::<Ledger>();
    const _: () = ::goverse::__private::assert_argument::<i64>();
    const _: () = ::goverse::__private::assert_output::<i64>();
    #[automatically_derived]
    impl ::goverse::__private::Proxy for LedgerProxy {
        fn from_handle(handle: ::goverse::__private::ObjectHandle) -> Self {
            LedgerProxy { handle }
        }
        fn handle(&self) -> &::goverse::__private::ObjectHandle {
            &self.handle
        }
    }
    #[allow(private_interfaces)]
    impl LedgerProxy {
        /// Calls `Ledger.post` as an exclusive turn.
        pub async fn post(&self, amount: i64) -> ::goverse::__private::Result<i64> {
            self.handle.call_exclusive::<__goverse_method_post>((amount,)).await
        }
    }
    struct __goverse_method_post;
    #[automatically_derived]
    impl ::goverse::__private::Method for __goverse_method_post {
        type Object = Ledger;
        const NAME: &'static str = "post";
        const PARAMS: &'static [&'static str] = &["amount"];
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
    impl ::goverse::__private::ExclusiveMethod for __goverse_method_post {
        fn invoke<'a>(
            __goverse_this: &'a mut Ledger,
            __goverse_ctx: &'a ::goverse::__private::Context,
            __goverse_args: <Self as ::goverse::__private::Method>::Args,
        ) -> impl ::core::future::Future<
            Output = ::goverse::__private::Result<i64>,
        > + ::core::marker::Send + 'a {
            async move {
                ::goverse::__private::ok(__goverse_this.post(__goverse_args.0).await)
            }
        }
    }
    #[automatically_derived]
    impl ::goverse::__private::Object for Ledger {
        const TYPE_NAME: &'static str = "Ledger";
        const PERSISTENCE: ::core::option::Option<
            ::goverse::__private::Persistence<Self>,
        > = ::core::option::Option::Some(
            ::goverse::__private::persistence::<
                Self,
            >(::goverse::__private::SavePolicy::EveryTurn),
        );
        type Proxy = LedgerProxy;
        const METHODS: &'static [::goverse::__private::MethodEntry<Self>] = &[
            ::goverse::__private::MethodEntry::exclusive::<__goverse_method_post>(),
        ];
        fn construct(_id: &str) -> Self {
            <Self as ::core::default::Default>::default()
        }
    }
    ::goverse::__private::inventory::submit! {
        ::goverse::__private::ObjectRegistration::of:: < Ledger > ()
    }
};
