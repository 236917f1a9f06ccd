# common/: parser, envelope, URL parsing
wl_unit_test(test_http1 unit/common/test_http1.c wl_common)
wl_unit_test(test_envelope unit/common/test_envelope.c wl_common)
wl_unit_test(test_redis_url unit/common/test_redis_url.c wl_common)
wl_unit_test(test_log unit/common/test_log.c wl_common)
wl_fuzz_target(fuzz_http1 fuzz/common/fuzz_http1.c fuzz/common/corpus_http1 wl_common)
