impl Purse {
    pub async fn deposit(&mut self, amount: u64) -> u64 {
        self.balance += amount;
        self.balance
    }
}
/// Typed proxy for `Wallet` objects: one async method per `#[method]`; each call activates the object if needed and runs as one turn. Get one with `Node::object` or `Context::object`.
#[derive(::core::clone::Clone, ::core::fmt::Debug)]
pub struct PurseProxy {
    handle: ::my::reexport::__private::ObjectHandle,
}
#[allow(non_camel_case_types, unused_qualifications, clippy::all)]
const _: () = {
    const _: () = ::my::reexport::__private::assert_object_state::<Purse>();
    const _: () = ::my::reexport::__private::assert_argument::<u64>();
    const _: () = ::my::reexport::__private::assert_output::<u64>();
    #[automatically_derived]
    impl ::my::reexport::__private::Proxy for PurseProxy {
        fn from_handle(handle: ::my::reexport::__private::ObjectHandle) -> Self {
            PurseProxy { handle }
        }
        fn handle(&self) -> &::my::reexport::__private::ObjectHandle {
            &self.handle
        }
    }
    #[allow(private_interfaces)]
    impl PurseProxy {
        /// Calls `Wallet.deposit` as an exclusive turn.
        pub async fn deposit(
            &self,
            amount: u64,
        ) -> ::my::reexport::__private::Result<u64> {
            self.handle.call_exclusive::<__goverse_method_deposit>((amount,)).await
        }
    }
    struct __goverse_method_deposit;
    #[automatically_derived]
    impl ::my::reexport::__private::Method for __goverse_method_deposit {
        type Object = Purse;
        const NAME: &'static str = "deposit";
        const PARAMS: &'static [&'static str] = &["amount"];
        const IDEMPOTENT: bool = false;
        type Args = (u64,);
        type Output = u64;
        fn schemas(
            __goverse_schemas: &mut ::my::reexport::__private::Schemas,
        ) -> ::my::reexport::__private::MethodSchemas {
            ::my::reexport::__private::method_schemas!(__goverse_schemas; u64; u64)
        }
    }
    #[automatically_derived]
    impl ::my::reexport::__private::ExclusiveMethod for __goverse_method_deposit {
        fn invoke<'a>(
            __goverse_this: &'a mut Purse,
            __goverse_ctx: &'a ::my::reexport::__private::Context,
            __goverse_args: <Self as ::my::reexport::__private::Method>::Args,
        ) -> impl ::core::future::Future<
            Output = ::my::reexport::__private::Result<u64>,
        > + ::core::marker::Send + 'a {
            async move {
                ::my::reexport::__private::ok(
                    __goverse_this.deposit(__goverse_args.0).await,
                )
            }
        }
    }
    #[automatically_derived]
    impl ::my::reexport::__private::Object for Purse {
        const TYPE_NAME: &'static str = "Wallet";
        const PERSISTENCE: ::core::option::Option<
            ::my::reexport::__private::Persistence<Self>,
        > = ::core::option::Option::Some(
            ::my::reexport::__private::persistence::<
                Self,
            >(
                ::my::reexport::__private::SavePolicy::Periodic(
                    ::core::option::Option::None,
                ),
            ),
        );
        type Proxy = PurseProxy;
        const METHODS: &'static [::my::reexport::__private::MethodEntry<Self>] = &[
            ::my::reexport::__private::MethodEntry::exclusive::<
                __goverse_method_deposit,
            >(),
        ];
        fn construct(_id: &str) -> Self {
            <Self as ::core::default::Default>::default()
        }
    }
    ::my::reexport::__private::inventory::submit! {
        ::my::reexport::__private::ObjectRegistration::of:: < Purse > ()
    }
};
