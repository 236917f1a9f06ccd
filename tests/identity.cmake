# identity (sign-in) tests (paths relative to tests/)
wl_unit_test(test_identity unit/identity/test_ident_util.c wl_gateway)
wl_integration_test(identity_signin integration/identity/test_signin.py 600)
