# identity (sign-in) tests (paths relative to tests/)
wl_unit_test(test_identity unit/identity/test_ident_util.c wl_gateway)
wl_integration_test(identity_signin integration/identity/test_signin.py 600)
wl_fuzz_target(fuzz_ident_input fuzz/identity/fuzz_ident_input.c fuzz/identity/corpus_ident_input
    wl_gateway)
