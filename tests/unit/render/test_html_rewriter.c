/* test_html_rewriter.c - the streaming link rewriter: byte preservation, link policy, split
 * independence and bounded memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "html_rewriter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sink {
    char *p;
    size_t len, cap;
    int count_only;
};

static void sink_write(void *ud, const void *p, size_t n)
{
    struct sink *s = ud;
    if (s->count_only) {
        s->len += n;
        return;
    }
    if (s->len + n + 1 > s->cap) {
        s->cap = (s->len + n + 1) * 2;
        s->p = realloc(s->p, s->cap);
        assert_non_null(s->p);
    }
    memcpy(s->p + s->len, p, n);
    s->len += n;
    s->p[s->len] = 0;
}

static const char *const domains[] = {"wiki.example.com", "*.corp.example.com"};

static struct rnd_url_policy policy(void)
{
    struct rnd_url_policy p;
    memset(&p, 0, sizeof p);
    p.domains = domains;
    p.ndomains = 2;
    p.tunnel_port = 8443;
    p.foreign = RND_FOREIGN_BLOCK;
    return p;
}

/* mode 0: whole; 1: byte by byte; 2+: random splits (seeded by mode) */
static char *run_mode(const struct rnd_url_policy *pol, const char *in, size_t n, int mode)
{
    struct sink s = {0};
    struct rnd_rewriter *rw = rnd_rewriter_new(pol, sink_write, &s);
    size_t i = 0;
    unsigned seed = (unsigned)mode * 7919u;
    while (i < n) {
        size_t k = n - i;
        if (mode == 1)
            k = 1;
        else if (mode >= 2) {
            seed = seed * 1103515245u + 12345u;
            k = 1 + (seed >> 8) % 23;
            if (k > n - i)
                k = n - i;
        }
        rnd_rewriter_feed(rw, in + i, k);
        i += k;
    }
    rnd_rewriter_finish(rw);
    rnd_rewriter_free(rw);
    if (!s.p)
        s.p = calloc(1, 1);
    return s.p;
}

/* Rewrites in every split mode; all must agree; returns the output (caller frees). */
static char *rewrite(const struct rnd_url_policy *pol, const char *in)
{
    size_t n = strlen(in);
    char *first = run_mode(pol, in, n, 0);
    for (int mode = 1; mode < 12; mode++) {
        char *o = run_mode(pol, in, n, mode);
        if (strcmp(o, first) != 0)
            fail_msg("split mode %d differs:\n%s\nvs\n%s", mode, o, first);
        free(o);
    }
    return first;
}

static void expect(const char *in, const char *want)
{
    struct rnd_url_policy pol = policy();
    char *got = rewrite(&pol, in);
    if (strcmp(got, want) != 0)
        fail_msg("input    %s\ngot      %s\nexpected %s", in, got, want);
    free(got);
}

static const char page[] =
    "<!DOCTYPE html>\r\n<html lang=en><head><meta charset=\"utf-8\">"
    "<title>A &amp; B &lt;tag&gt;</title>\n"
    "<link rel=stylesheet href=\"/static/site.css?v=1&amp;x=2\">"
    "<style>body { background: url('/img/bg.png') } @import \"/a.css\";</style>"
    "<script>var s = '<a href=\"http://evil.example.net/\">'; if (a < b && c) {}</script>"
    "</head><body><!-- a comment with <a href=http://evil.example.net/> inside -->"
    "<a href=\"https://wiki.example.com:8443/page\" title='x &quot;y&quot;'>link</a>"
    "<a href=page2.html#frag>rel</a><img src=\"data:image/png;base64,AAAA\" "
    "srcset=\"/a.png 1x, /b.png 2x\" alt=caf\xc3\xa9>"
    "<form action=/submit method=post><input name=q value=\"&#x27;\"></form>"
    "<a href=\"mailto:a@b.c\">m</a><a href=\"tel:+1\">t</a>"
    "<svg><a xlink:href=\"#anchor\"/><![CDATA[ <a href=http://evil.example.net/> ]]></svg>"
    "<textarea><a href=http://evil.example.net/></textarea>"
    "<p style=\"color: red; background: url(/x.png)\">caf\xc3\xa9 \x00 \xff\xfe</p>"
    "<a href=\"//wiki.example.com/x\" ping=\"/ping1 /ping2\">proto-relative</a>"
    "<meta http-equiv=refresh content=\"5; url=/next\">"
    "<iframe srcdoc=\"<p class=&quot;x&quot; title='&amp;'>hi <a href=/x>x</a></p>\"></iframe>"
    "<iframe srcdoc=<b>unquoted</b>></iframe>"
    "</body></html>\n";

static void test_unchanged_bytes_pass_through(void **state)
{
    (void)state;
    struct rnd_url_policy pol = policy();
    size_t n = sizeof page - 1;
    for (int mode = 0; mode < 12; mode++) {
        char *o = run_mode(&pol, page, n, mode);
        assert_int_equal(strlen(o) + 0, strlen(page)); /* page has a NUL: compare prefix */
        assert_memory_equal(o, page, strlen(page));
        free(o);
    }
}

static void test_foreign_links_blocked(void **state)
{
    (void)state;
    expect("<a href=\"http://evil.example.net/x?y=1\">",
           "<a href=\"/__worklink/blocked?url=http%3A%2F%2Fevil.example.net%2Fx%3Fy%3D1\">");
    expect("<img src='https://evil.example.net'>",
           "<img src='/__worklink/blocked?url=https%3A%2F%2Fevil.example.net'>");
    /* decided after character references are decoded, as the browser would */
    expect("<a href=\"http&#58;//evil.example.net/\">",
           "<a href=\"/__worklink/blocked?url=http%3A%2F%2Fevil.example.net%2F\">");
    expect("<a href=\"&#x20;//evil.example.net/a\">",
           "<a href=\"/__worklink/blocked?url=%2F%2Fevil.example.net%2Fa\">");
    expect("<a href=\"/\\evil.example.net/a\">",
           "<a href=\"/__worklink/blocked?url=%2F%5Cevil.example.net%2Fa\">");
    expect("<a href=\"ht\ttp://evil.example.net/\">",
           "<a href=\"/__worklink/blocked?url=ht%09tp%3A%2F%2Fevil.example.net%2F\">");
    expect("<a href=\"http:evil.example.net/\">",
           "<a href=\"/__worklink/blocked?url=http%3Aevil.example.net%2F\">");
    expect("<a href=http://wiki.example.com@evil.example.net/>",
           "<a href=/__worklink/blocked?url=http%3A%2F%2Fwiki.example.com%40evil.example.net%2F>");
    expect("<form action=\"https://evil.example.net/post\"><button formaction=//evil.example.net>",
           "<form action=\"/__worklink/blocked?url=https%3A%2F%2Fevil.example.net%2Fpost\">"
           "<button formaction=/__worklink/blocked?url=%2F%2Fevil.example.net>");
    expect("<object data=\"http://evil.example.net/f.swf\"></object><div data=\"http://x.y/\">",
           "<object data=\"/__worklink/blocked?url=http%3A%2F%2Fevil.example.net%2Ff.swf\">"
           "</object><div data=\"http://x.y/\">");
}

static void test_host_confusions(void **state)
{
    (void)state;
    /* WHATWG: '\\' ends the host of a special URL, so the host is evil.example.net */
    expect("<a href=\"https://evil.example.net\\@wiki.example.com/\">",
           "<a href=\"/__worklink/blocked?url=https%3A%2F%2Fevil.example.net%5C%40wiki.example.com"
           "%2F\">");
    expect(
        "<a href=\"https://wiki.example.com.evil.example.net/\">",
        "<a href=\"/__worklink/blocked?url=https%3A%2F%2Fwiki.example.com.evil.example.net%2F\">");
    expect("<a href=\"https://wiki.example.com%2eevil.example.net/\">",
           "<a href=\"/__worklink/blocked?url=https%3A%2F%2Fwiki.example.com%252eevil.example.net"
           "%2F\">");
    expect("<a href=\"https://WIKI.example.COM./x\">",
           "<a href=\"https://wiki.example.com:8443/x\">");
    expect("<a href=\"https://[::1]/x\">",
           "<a href=\"/__worklink/blocked?url=https%3A%2F%2F%5B%3A%3A1%5D%2Fx\">");
    expect("<a href=\"wss://wiki.example.com/ws\">", "<a href=\"wss://wiki.example.com:8443/ws\">");
    expect("<a href=\"file:///etc/passwd\">",
           "<a href=\"/__worklink/blocked?url=file%3A%2F%2F%2Fetc%2Fpasswd\">");
}

static void test_internal_links_stay_in_tunnel(void **state)
{
    (void)state;
    expect("<a href=\"http://wiki.example.com/a?b#c\">",
           "<a href=\"https://wiki.example.com:8443/a?b#c\">");
    expect("<a href=\"HTTPS://WIKI.example.com:443/a\">",
           "<a href=\"https://wiki.example.com:8443/a\">");
    expect("<a href=\"https://wiki.example.com:8443/a\">",
           "<a href=\"https://wiki.example.com:8443/a\">");
    expect("<img src=//app.corp.example.com/i.png>",
           "<img src=https://app.corp.example.com:8443/i.png>");
    expect("<a href=\"https://corp.example.com/\">",
           "<a href=\"/__worklink/blocked?url=https%3A%2F%2Fcorp.example.com%2F\">");
    /* the value around the URL is re-escaped; other attributes keep their bytes */
    expect("<a title=\"&amp;\" href=\"http://wiki.example.com/?a=1&amp;b=&quot;2&quot;\">",
           "<a title=\"&amp;\" href=\"https://wiki.example.com:8443/?a=1&amp;b=&quot;2&quot;\">");
}

static void test_first_duplicate_attribute_counts(void **state)
{
    (void)state;
    expect("<a href=\"/ok\" href=\"http://evil.example.net/\">",
           "<a href=\"/ok\" href=\"http://evil.example.net/\">");
    expect("<a href=\"http://evil.example.net/\" HREF=\"/ok\">",
           "<a href=\"/__worklink/blocked?url=http%3A%2F%2Fevil.example.net%2F\" HREF=\"/ok\">");
}

static void test_srcset_ping_refresh(void **state)
{
    (void)state;
    expect(
        "<img srcset=\"a.png 1x, http://evil.example.net/b.png 2x,http://wiki.example.com/c.png\">",
        "<img srcset=\"a.png 1x, /__worklink/blocked?url=http%3A%2F%2Fevil.example.net%2Fb.png "
        "2x,https://wiki.example.com:8443/c.png\">");
    expect("<a ping=\"/p http://evil.example.net/p\">",
           "<a ping=\"/p /__worklink/blocked?url=http%3A%2F%2Fevil.example.net%2Fp\">");
    expect("<meta http-equiv=\"refresh\" content=\"0; URL='http://evil.example.net/'\">",
           "<meta http-equiv=\"refresh\" content=\"0; URL='"
           "/__worklink/blocked?url=http%3A%2F%2Fevil.example.net%2F%27\">");
    expect("<meta http-equiv=refresh content=\"3;http://wiki.example.com/x\">",
           "<meta http-equiv=refresh content=\"3;https://wiki.example.com:8443/x\">");
    expect("<meta name=description content=\"http://evil.example.net/ is bad\">",
           "<meta name=description content=\"http://evil.example.net/ is bad\">");
}

static void test_css_urls(void **state)
{
    (void)state;
    expect(
        "<style>a{background:url( http://evil.example.net/a.png )}"
        "@import \"http://wiki.example.com/s.css\";</style><p>url(http://evil.example.net/)</p>",
        "<style>a{background:url( /__worklink/blocked?url=http%3A%2F%2Fevil.example.net%2Fa.png )}"
        "@import \"https://wiki.example.com:8443/s.css\";</style>"
        "<p>url(http://evil.example.net/)</p>");
    expect("<div style='background:URL(\"//evil.example.net/x\")'>",
           "<div style='background:URL(\"/__worklink/blocked?url=%2F%2Fevil.example.net%2Fx\")'>");
}

/* A CR LF inside a stretch written from the decoded text is one line break (it used to come out
 * as LF LF when the whole input was fed at once, LF CR LF... in other splits). */
static void test_crlf_in_rewritten_stretch(void **state)
{
    (void)state;
    expect("<img srcset=\"http://evil.example.net/a\r\n2x\">",
           "<img srcset=\"/__worklink/blocked?url=http%3A%2F%2Fevil.example.net%2Fa\n2x\">");
    expect("<style>a{background:url(http://evil.example.net/a)}\r\nb{}</style>\r\n",
           "<style>a{background:url(/__worklink/blocked?url=http%3A%2F%2Fevil.example.net%2Fa)}"
           "\r\nb{}</style>\r\n");
    expect("<style>@import\"x\r\n</style>", "<style>@import\"x\r\n</style>");
    /* a CR from a reference, written from the decoded text, stays a reference (a raw CR would
     * be read as LF) */
    expect("<img ping=\"http://evil.example.net/x 2&#13;\">",
           "<img ping=\"/__worklink/blocked?url=http%3A%2F%2Fevil.example.net%2Fx 2&#13;\">");
}

static void test_script_comment_rawtext_untouched(void **state)
{
    (void)state;
    const char *in = "<script>document.write('<img src=http://evil.example.net/>')</script>"
                     "<!-- <img src=http://evil.example.net/> -->"
                     "<textarea><img src=http://evil.example.net/></textarea>"
                     "<title><a href=http://evil.example.net/></title>";
    expect(in, in);
    /* svg <style> is not raw text; HTML breaks out of svg on <p> */
    expect("<svg><a xlink:href=\"http://evil.example.net/\"/></svg><p><style>x{}</style>",
           "<svg><a xlink:href=\"/__worklink/blocked?url=http%3A%2F%2Fevil.example.net%2F\"/>"
           "</svg><p><style>x{}</style>");
}

static void test_srcdoc_nested(void **state)
{
    (void)state;
    expect("<iframe srcdoc=\"<a href=&quot;http://evil.example.net/&quot;>x</a>\"></iframe>",
           "<iframe srcdoc=\"<a href=&quot;/__worklink/blocked?url=http%3A%2F%2Fevil.example.net"
           "%2F&quot;>x</a>\"></iframe>");
}

static void test_keep_policy_and_scripts(void **state)
{
    (void)state;
    struct rnd_url_policy pol = policy();
    pol.foreign = RND_FOREIGN_KEEP;
    char *o = rewrite(&pol, "<a href=\"http://evil.example.net/\" onclick=\"go()\">"
                            "<a href=\"javascript:alert(1)\">");
    assert_string_equal(o, "<a href=\"http://evil.example.net/\" onclick=\"go()\">"
                           "<a href=\"javascript:alert(1)\">");
    free(o);
    pol.strip_scripts = 1;
    o = rewrite(&pol, "<a href=\"http://evil.example.net/\" onclick=\"go()\">"
                      "<a href=\" JavaScript:alert(document.cookie)\" onmouseover=x>");
    assert_string_equal(o, "<a href=\"http://evil.example.net/\" onclick=\"\">"
                           "<a href=\"about:blank#blocked\" onmouseover=>");
    free(o);
}

/* Feeds `head`, then `fill` repeated to `total` bytes in 64 KiB pieces, then `tail`; checks the
 * memory the rewriter holds never passes the bound and returns the output length. */
static size_t feed_huge(const struct rnd_url_policy *pol, const char *head, char fill, size_t total,
                        const char *tail, size_t *max_held)
{
    struct sink s = {.count_only = 1};
    struct rnd_rewriter *rw = rnd_rewriter_new(pol, sink_write, &s);
    static char piece[65536];
    memset(piece, fill, sizeof piece);
    rnd_rewriter_feed(rw, head, strlen(head));
    *max_held = 0;
    for (size_t done = 0; done < total; done += sizeof piece) {
        rnd_rewriter_feed(rw, piece, sizeof piece);
        size_t h = rnd_rewriter_bytes_held(rw);
        if (h > *max_held)
            *max_held = h;
    }
    rnd_rewriter_feed(rw, tail, strlen(tail));
    rnd_rewriter_finish(rw);
    rnd_rewriter_free(rw);
    return s.len;
}

/* Whole tags are taken without events when all their URLs stay as they are (the fast path of
 * rnd_tok_set_tag_cb): on tags that are whole in the buffer, with every shape of attribute, the
 * output and the URL counts equal those of the rewriter that looks at every event. */
static void run_skip(const char *in, int skipping, struct sink *s, struct rnd_rewrite_stats *st,
                     int strip)
{
    struct rnd_url_policy pol = policy();
    pol.strip_scripts = strip;
    struct rnd_rewriter *rw = rnd_rewriter_new(&pol, sink_write, s);
    rnd_rewriter_set_skipping(rw, skipping);
    rnd_rewriter_feed(rw, in, strlen(in));
    rnd_rewriter_finish(rw);
    rnd_rewriter_stats(rw, st);
    rnd_rewriter_free(rw);
}

static void test_whole_tags_agree_with_events(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "<a href=/x title=t>a</a><A HREF=\"/Y\" Class=c>b</A>",
        "<a href=\"/p?a=1&amp;b=2\">x</a><a href='https://wiki.example.com/x?y&amp;z'>y</a>",
        "<a href=\"http://wiki.example.com/x\">moved</a><a href=/k>kept</a>",
        "<a href=https://evil.example.net/x>blocked</a><a href=rel.html>kept</a>",
        "<a href=/one href=http://evil.example.net/>dup</a><a href href=/z>novalue</a>",
        "<img src=/a.png srcset=\"/a.png 1x, /b.png (max-width: 1px) 2x,/c.png\">",
        "<img srcset=\"/a.png 1x, http://evil.example.net/b.png 2x\">",
        "<img srcset=\"/a,b.png 1x,, ,/c.png\" src=\"\">",
        "<a href=\"/x\"/><a href=/y/><a/b href=/z><a / href=/w >",
        "<a href=\"/x\"title=t><a href=\" \t/spaced\n\">s</a>",
        "<a href=\"http:\">h</a><a href=\"https://wiki.example.com\">w</a><a "
        "href=//x.corp.example.com>c</a>",
        "<a href=\"http://wiki.example.com:8443/x\">port</a><a "
        "href=\"ws://wiki.example.com/\">ws</a>",
        "<object data=/o.swf></object><object data=http://evil.example.net/></object><p "
        "data=http://e/>",
        "<meta content=\"5; url=/next\"><meta name=x content=y><iframe srcdoc=\"<a "
        "href=/q>\"></iframe>",
        "<form action=/s><button formaction=http://evil.example.net/>b</button></form>",
        "</a href=\">\"><p ping=\"/p1 /p2\" style=\"background:url(/x.png)\">",
        "<a href=/x onclick=\"go()\">on</a><script>var a = '<a href=http://e/>'</script>",
        "<svg><a xlink:href=/x href=http://evil.example.net/>s</a></svg><a href=/after>",
        "<a href=\"javascript:alert(1)\">js</a><a href=\"mailto:a@b\">m</a><a href=#f>f</a>",
        "<a href=\"/\x01ctl\">c</a><a h\x01ref=/x>c2</a><a href=/x\x7f>c3</a>",
        "<a href=\"/x\r\n\">cr</a><a href=\"/a&#x2F;b\">ref</a>",
        "<a href=\"http://wiki.example.com/&amp;\">amp-after-host</a><a href=\"http&#58;//e/\">",
        "<a  href = \"/sp\"  >sp</a><a href=\"/unterminated",
        "<a href=\"http://evil.example.net/p?a=1&amp;b=&quot;2&quot;&nbsp;x&lt;&gt;&#39;\">q</a>",
        "<a href=\"http://evil.example.net/p?a=1&#x41;b&amp\">r</a><a "
        "href=http://e.x/?a&amp;b>u</a>",
        "<a href=\"http://wiki.example.com/p?a=1&amp;b=2\" src=\"http://x.corp.example.com/\">",
        "<img srcset=\"http://evil.example.net/a.png 1x, /b.png 2x, http://wiki.example.com/c.png "
        "3x\">",
        "<img srcset='http://evil.example.net/a.png, http://x.corp.example.com/b.png (w) 2x,'>",
        "<img srcset=http://evil.example.net/a.png src=http://evil.example.net/s.png>",
        "<img srcset=\"http://evil.example.net/a.png?x&amp;y 1x\" src=\"/ok\">",
        "<f onc=\"\" href=\"\" srcset=''>",
        "<f onc=\"\" href=\"\" srcset=''>",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sink a = {0}, b = {0};
        struct rnd_rewrite_stats sa, sb;
        run_skip(cases[i], 1, &a, &sa, (int)(i & 1));
        run_skip(cases[i], 0, &b, &sb, (int)(i & 1));
        if (a.len != b.len || (a.len && memcmp(a.p, b.p, a.len) != 0))
            fail_msg("case %zu: whole tags\n%s\nevents\n%s", i, a.p, b.p);
        if (sa.urls != sb.urls || sa.rewritten != sb.rewritten || sa.blocked != sb.blocked)
            fail_msg("case %zu: counts %llu/%llu/%llu vs %llu/%llu/%llu", i,
                     (unsigned long long)sa.urls, (unsigned long long)sa.rewritten,
                     (unsigned long long)sa.blocked, (unsigned long long)sb.urls,
                     (unsigned long long)sb.rewritten, (unsigned long long)sb.blocked);
        free(a.p);
        free(b.p);
    }
}

static void test_memory_bounded_on_100mb_tokens(void **state)
{
    (void)state;
    struct rnd_url_policy pol = policy();
    const size_t total = 100u << 20;
    size_t held;
    const struct {
        const char *head, *tail;
        char fill;
        long delta; /* output length - input length */
    } cases[] = {
        {"<!--", "-->", 'a', 0},
        {"<p title=\"", "\">", 'a', 0},
        {"<a href=\"/", "\">", 'a', 0},
        {"<style>", "</style>", 'a', 0},
        {"<script>", "</script>", '<', 0},
        {"<a href=\"http://wiki.example.com/", "\">", 'b', 6}, /* https, :8443 */
        {"<a href=\"http://", "\">", 'c', -1},                 /* overlong host: blocked */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t in = strlen(cases[i].head) + total + strlen(cases[i].tail);
        size_t outlen = feed_huge(&pol, cases[i].head, cases[i].fill, total, cases[i].tail, &held);
        printf("case %zu: max held %zu bytes, out %zu, in %zu\n", i, held, outlen, in);
        assert_true(held <= 64 * 1024);
        if (cases[i].delta >= 0)
            assert_int_equal(outlen, in + (size_t)cases[i].delta);
        else
            assert_true(outlen > in); /* percent-encoded into the block URL */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unchanged_bytes_pass_through),
        cmocka_unit_test(test_foreign_links_blocked),
        cmocka_unit_test(test_host_confusions),
        cmocka_unit_test(test_internal_links_stay_in_tunnel),
        cmocka_unit_test(test_first_duplicate_attribute_counts),
        cmocka_unit_test(test_srcset_ping_refresh),
        cmocka_unit_test(test_css_urls),
        cmocka_unit_test(test_crlf_in_rewritten_stretch),
        cmocka_unit_test(test_script_comment_rawtext_untouched),
        cmocka_unit_test(test_srcdoc_nested),
        cmocka_unit_test(test_keep_policy_and_scripts),
        cmocka_unit_test(test_whole_tags_agree_with_events),
        cmocka_unit_test(test_memory_bounded_on_100mb_tokens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
