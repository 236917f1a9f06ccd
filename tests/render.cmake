# render/ tests (paths relative to tests/).
set(RND_HTML5LIB_DIR "${CMAKE_SOURCE_DIR}/tests/data/html5lib-tokenizer"
    CACHE PATH "html5lib tokenizer tests (JSON .test files)")

# html5lib tokenizer conformance: every test fed whole, byte by byte and at random splits.
add_executable(test_render_html5lib unit/render/test_html5lib.c)
target_link_libraries(test_render_html5lib PRIVATE wl_render PkgConfig::JANSSON)
add_test(NAME test_render_html5lib COMMAND test_render_html5lib ${RND_HTML5LIB_DIR})
set_tests_properties(test_render_html5lib PROPERTIES LABELS unit TIMEOUT 300 SKIP_RETURN_CODE 77)

wl_unit_test(test_render_html_rewriter unit/render/test_html_rewriter.c wl_render)
wl_unit_test(test_render_header_policy unit/render/test_header_policy.c wl_render)
wl_unit_test(test_render_cookie_jar unit/render/test_cookie_jar.c wl_render)
wl_unit_test(test_render_stream unit/render/test_stream.c wl_render)

# libFuzzer targets (-DFUZZ=ON with clang); their seed corpora are replayed on every ctest run.
wl_fuzz_target(fuzz_html_tokenizer fuzz/render/fuzz_html_tokenizer.c
               fuzz/render/corpus_html_tokenizer wl_render)
wl_fuzz_target(fuzz_html_rewriter fuzz/render/fuzz_html_rewriter.c
               fuzz/render/corpus_html_rewriter wl_render)
wl_fuzz_target(fuzz_cookie_jar fuzz/render/fuzz_cookie_jar.c fuzz/render/corpus_cookie_jar
               wl_render)
wl_unit_test(test_render_html_tokenizer unit/render/test_html_tokenizer.c wl_render)
