# gateway/saml: SAML service-provider core (wl_saml)
wl_unit_test(test_saml unit/saml/test_saml.c wl_saml)
add_executable(saml_tool integration/saml/saml_tool.c)
target_link_libraries(saml_tool PRIVATE wl_saml PkgConfig::JANSSON)
wl_integration_test(saml_pysaml2 integration/saml/test_saml_pysaml2.py 300)
wl_fuzz_target(fuzz_saml_response fuzz/saml/fuzz_saml_response.c fuzz/saml/corpus_saml_response
    wl_saml)
