# render stage on the gateway's data path (issue 5; paths relative to tests/)
wl_integration_test(render_gw integration/render_gw/test_render_gw.py 900)
set_tests_properties(render_gw PROPERTIES DEPENDS gw_test_seal)
