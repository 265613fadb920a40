// The wire module (core/src/HttpWire): llhttp-based request and response
// parsing, the serialisers and the header rules, on byte strings.
#include "HttpWire.h"

#include <QTest>

using namespace prawmp;
using namespace prawmp::wire;

namespace {

struct Parsed
{
    QList<ParsedRequest> requests;
    QList<int> headersEvents; // HeadersComplete results before each request ended
    WireError error;
};

// Feeds `bytes` in pieces of `step` bytes (0: at once), as a connection does:
// unconsumed bytes are given again with the next piece.
Parsed parseAll(const QByteArray &bytes, qsizetype step = 0, const RequestLimits &limits = {})
{
    RequestParser parser(limits);
    Parsed out;
    QByteArray pending;
    int headers = 0;
    for (qsizetype at = 0; at < bytes.size() || !pending.isEmpty();) {
        if (at < bytes.size()) {
            const qsizetype n = step > 0 ? qMin(step, bytes.size() - at) : bytes.size() - at;
            pending += bytes.mid(at, n);
            at += n;
        }
        bool progress = true;
        while (!pending.isEmpty() && progress) {
            qsizetype used = 0;
            const auto result = parser.parse(pending.constData(), pending.size(), &used);
            pending.remove(0, used);
            switch (result) {
            case RequestParser::Result::NeedMore:
                progress = false;
                break;
            case RequestParser::Result::HeadersComplete:
                ++headers;
                break;
            case RequestParser::Result::MessageComplete:
                out.requests.append(parser.takeRequest());
                out.headersEvents.append(headers);
                headers = 0;
                break;
            case RequestParser::Result::Error:
                out.error = parser.error();
                return out;
            }
        }
        if (at >= bytes.size() && !progress)
            break;
    }
    return out;
}

} // namespace

class TestHttpWire : public QObject
{
    Q_OBJECT

private slots:
    void strictRequestParsingRefuses_data()
    {
        QTest::addColumn<QByteArray>("raw");
        QTest::addColumn<int>("status");
        QTest::newRow("HTTX version") << QByteArray("GET /r/python/hot.json HTTX/1.1\r\nHost: a\r\n\r\n") << 400;
        QTest::newRow("space after version") << QByteArray("GET /r/python/hot.json HTTP/1.1 \r\nHost: a\r\n\r\n") << 400;
        QTest::newRow("bare LF in value") << QByteArray("GET /r HTTP/1.1\r\nHost: a\nb\r\n\r\n") << 400;
        QTest::newRow("space before colon") << QByteArray("GET /r HTTP/1.1\r\nHost : a\r\n\r\n") << 400;
        QTest::newRow("obs-fold") << QByteArray("GET /r HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n") << 400;
        QTest::newRow("two spaces before target") << QByteArray("GET  /r HTTP/1.1\r\nHost: a\r\n\r\n") << 400;
        QTest::newRow("two spaces before version") << QByteArray("GET /r  HTTP/1.1\r\nHost: a\r\n\r\n") << 400;
        QTest::newRow("leading space in field line") << QByteArray("GET /r HTTP/1.1\r\n Host: a\r\n\r\n") << 400;
        QTest::newRow("CR alone in value") << QByteArray("GET /r HTTP/1.1\r\nX: a\rb\r\n\r\n") << 400;
        QTest::newRow("Content-Length and chunked") << QByteArray("POST /r HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n") << 400;
        QTest::newRow("two Content-Length") << QByteArray("POST /r HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx") << 400;
        QTest::newRow("gzip coding") << QByteArray("POST /r HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n") << 400;
        QTest::newRow("no version") << QByteArray("GET /r\r\n\r\n") << 400;
        QTest::newRow("HTTP/2.0") << QByteArray("GET /r HTTP/2.0\r\nHost: a\r\n\r\n") << 505;
        QTest::newRow("body too large") << QByteArray("POST /r HTTP/1.1\r\nContent-Length: 2000\r\n\r\n") << 413;
        QTest::newRow("chunk too large") << QByteArray("POST /r HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n") << 413;
        QTest::newRow("header block too large") << (QByteArray("GET /r HTTP/1.1\r\nX: ") + QByteArray(600, 'a') + "\r\n\r\n") << 431;
    }
    void strictRequestParsingRefuses()
    {
        QFETCH(QByteArray, raw);
        QFETCH(int, status);
        const RequestLimits limits{512, 1024};
        for (qsizetype step : {qsizetype(0), qsizetype(1), qsizetype(7)}) {
            const Parsed p = parseAll(raw, step, limits);
            QVERIFY2(p.error, qPrintable(QStringLiteral("step %1: accepted").arg(step)));
            QCOMPARE(p.error.status, status);
            QVERIFY(!p.error.message.isEmpty());
            QVERIFY(p.requests.isEmpty());
        }
    }

    void pipelinedRequestsSplitAnywhere_data()
    {
        QTest::addColumn<qsizetype>("step");
        for (qsizetype s : {0, 1, 2, 3, 5, 13, 64})
            QTest::newRow(qPrintable(QString::number(s))) << s;
    }
    void pipelinedRequestsSplitAnywhere()
    {
        QFETCH(qsizetype, step);
        const QByteArray raw = "GET /a?x=1 HTTP/1.1\r\nHost: h\r\nUser-Agent:  bot 1 \r\n\r\n"
                               "POST /b HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
                               "PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nT: v\r\n\r\n"
                               "HEAD /d HTTP/1.0\r\n\r\n";
        const Parsed p = parseAll(raw, step);
        QVERIFY2(!p.error, qPrintable(p.error.message));
        QCOMPARE(p.requests.size(), 4);
        QCOMPARE(p.requests[0].method, QByteArray("GET"));
        QCOMPARE(p.requests[0].target, QByteArray("/a?x=1"));
        QCOMPARE(p.requests[0].headers.value("user-agent"), QByteArray("bot 1"));
        QVERIFY(p.requests[0].keepAlive);
        QCOMPARE(p.requests[1].body, QByteArray("hello"));
        QCOMPARE(p.requests[2].body, QByteArray("abcde"));
        QVERIFY(!p.requests[2].headers.contains("T")); // trailers are not fields of the request
        QCOMPARE(p.requests[3].method, QByteArray("HEAD"));
        QCOMPARE(p.requests[3].versionMinor, 0);
        QVERIFY(!p.requests[3].keepAlive);
        // Only a request with a body stops after its header block.
        QCOMPARE(p.headersEvents, (QList<int>{0, 1, 1, 0}));
    }

    void expectContinueOnlyWithBody()
    {
        RequestParser parser;
        const QByteArray raw = "POST /a HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
        qsizetype used = 0;
        QCOMPARE(parser.parse(raw.constData(), raw.size(), &used), RequestParser::Result::HeadersComplete);
        QCOMPARE(used, raw.size());
        QVERIFY(parser.expectsContinue());
        QVERIFY(parser.bodyExpected());
        QVERIFY(parser.inMessage());
        QCOMPARE(parser.parse("ok", 2, &used), RequestParser::Result::MessageComplete);
        QCOMPARE(parser.takeRequest().body, QByteArray("ok"));
        QVERIFY(!parser.inMessage());

        RequestParser noBody;
        const QByteArray get = "GET /a HTTP/1.1\r\nExpect: 100-continue\r\n\r\n";
        QCOMPARE(noBody.parse(get.constData(), get.size(), &used), RequestParser::Result::MessageComplete);
        QVERIFY(!noBody.expectsContinue());
    }

    void borrowingGivesViewsIntoTheBuffer()
    {
        RequestParser parser;
        parser.setBorrowing(true);
        const QByteArray raw = "GET /r/x.json?a=1 HTTP/1.1\r\nHost: h\r\nCookie:  c=1 \r\nCookie: d=2\r\n\r\n";
        qsizetype used = 0;
        QCOMPARE(parser.parse(raw.constData(), raw.size(), &used), RequestParser::Result::MessageComplete);
        QCOMPARE(used, raw.size());
        QCOMPARE(parser.targetView(), QByteArrayView("/r/x.json?a=1"));
        QVERIFY(parser.targetView().data() >= raw.constData()
                && parser.targetView().data() < raw.constData() + raw.size()); // not a copy
        QCOMPARE(parser.fieldViews().size(), 3);
        QCOMPARE(parser.fieldViews()[1].name, QByteArrayView("Cookie"));
        QCOMPARE(parser.fieldViews()[1].value, QByteArrayView("c=1"));
        QCOMPARE(parser.fieldViews()[2].value, QByteArrayView("d=2"));
        QVERIFY(parser.request().headers.isEmpty());
        QCOMPARE(parser.request().method, QByteArray("GET"));

        // The same checks as when copying.
        parser.reset();
        const QByteArray bad = "GET /r HTTP/1.1\r\nHost : h\r\n\r\n";
        QCOMPARE(parser.parse(bad.constData(), bad.size(), &used), RequestParser::Result::Error);
        QCOMPARE(parser.error().status, 400);

        // A request split across calls cannot be borrowed.
        parser.reset();
        QCOMPARE(parser.parse(raw.constData(), 10, &used), RequestParser::Result::NeedMore);
        QCOMPARE(parser.parse(raw.constData() + 10, raw.size() - 10, &used), RequestParser::Result::Error);
    }

    void responsesParsedWhole_data()
    {
        QTest::addColumn<QByteArray>("raw");
        QTest::addColumn<bool>("head");
        QTest::addColumn<bool>("eof");
        QTest::addColumn<int>("status");
        QTest::addColumn<QByteArray>("body");
        QTest::addColumn<bool>("keepAlive");
        QTest::newRow("content-length") << QByteArray("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc") << false << false << 200 << QByteArray("abc") << true;
        QTest::newRow("chunked") << QByteArray("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\n") << false << false << 200 << QByteArray("abc") << true;
        QTest::newRow("until close") << QByteArray("HTTP/1.1 200 OK\r\n\r\nabc") << false << true << 200 << QByteArray("abc") << false;
        QTest::newRow("HEAD with length") << QByteArray("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n") << true << false << 200 << QByteArray() << true;
        QTest::newRow("204 ignores length") << QByteArray("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n") << false << false << 204 << QByteArray() << true;
        QTest::newRow("304") << QByteArray("HTTP/1.1 304 Not Modified\r\n\r\n") << false << false << 304 << QByteArray() << true;
        QTest::newRow("interim then final") << QByteArray("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx") << false << false << 201 << QByteArray("x") << true;
        QTest::newRow("connection close") << QByteArray("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n") << false << false << 404 << QByteArray() << false;
        QTest::newRow("HTTP/1.0") << QByteArray("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nz") << false << false << 200 << QByteArray("z") << false;
    }
    void responsesParsedWhole()
    {
        QFETCH(QByteArray, raw);
        QFETCH(bool, head);
        QFETCH(bool, eof);
        QFETCH(int, status);
        QFETCH(QByteArray, body);
        QFETCH(bool, keepAlive);
        for (qsizetype step : {raw.size(), qsizetype(1), qsizetype(4)}) {
            ResponseParser parser;
            parser.reset(head);
            ResponseParser::Status s = ResponseParser::Status::NeedMore;
            for (qsizetype at = 0; at < raw.size(); at += step)
                s = parser.feed(raw.mid(at, step));
            if (eof) {
                QCOMPARE(s, ResponseParser::Status::NeedMore);
                s = parser.finishAtEof();
            }
            QCOMPARE(s, ResponseParser::Status::Complete);
            QVERIFY(parser.headComplete());
            QCOMPARE(parser.keepAlive(), keepAlive);
            const Response r = parser.takeResponse();
            QCOMPARE(r.status, status);
            QCOMPARE(r.body, body);
            QVERIFY(!r.headers.contains("transfer-encoding"));
        }
    }

    void responseProblemsDetected()
    {
        ResponseParser truncated;
        truncated.feed(QByteArray("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab"));
        QCOMPARE(truncated.finishAtEof(), ResponseParser::Status::NeedMore);

        ResponseParser garbage;
        QCOMPARE(garbage.feed(QByteArray("HTTP/1.1 2x0 OK\r\n\r\n")), ResponseParser::Status::Error);
        QVERIFY(!garbage.errorString().isEmpty());

        ResponseParser upgrade;
        QCOMPARE(upgrade.feed(QByteArray("HTTP/1.1 101 Switching Protocols\r\n\r\n")), ResponseParser::Status::Error);

        ResponseParser folded;
        QCOMPARE(folded.feed(QByteArray("HTTP/1.1 200 OK\r\nX : y\r\nContent-Length: 0\r\n\r\n")), ResponseParser::Status::Error);

        ResponseParser extra;
        QCOMPARE(extra.feed(QByteArray("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1")), ResponseParser::Status::Complete);
        QVERIFY(extra.extraBytes());
        QVERIFY(!extra.keepAlive());

        ResponseParser big(64);
        QCOMPARE(big.feed(QByteArray("HTTP/1.1 200 OK\r\nX: ") + QByteArray(100, 'a') + "\r\n\r\n"), ResponseParser::Status::Error);
    }

    void streamedBodyGoesToCallback()
    {
        ResponseParser parser;
        QByteArray streamed;
        int heads = 0;
        parser.onHead = [&] {
            ++heads;
            parser.onBody = [&](const QByteArray &b) { streamed += b; };
        };
        parser.feed(QByteArray("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"));
        QCOMPARE(heads, 1);
        QCOMPARE(streamed, QByteArray("hello"));
        QVERIFY(parser.response().body.isEmpty());
        parser.reset(false);
        QVERIFY(!parser.onBody);
    }

    void requestSerialiserDropsConnectionFields()
    {
        HttpHeaders h{{"User-Agent", "bot"}, {"Connection", "keep-alive, X-Secret"}, {"X-Secret", "s"},
                      {"Host", "evil"}, {"Content-Length", "99"}, {"Proxy-Authorization", "Bearer t"},
                      {"Expect", "100-continue"}, {"TE", "trailers"}, {"Bad Name", "v"},
                      {"X-Split", "a\r\nInjected: 1"}, {"Authorization", "bearer abc"}};
        const QByteArray wire = serializeRequest("POST", "/x?y=1", "host:8080", h, "body",
                                                 HttpHeaders{{"Proxy-Authorization", "Bearer ours"}});
        QCOMPARE(wire, QByteArray("POST /x?y=1 HTTP/1.1\r\nHost: host:8080\r\nUser-Agent: bot\r\n"
                                  "Authorization: bearer abc\r\nProxy-Authorization: Bearer ours\r\n"
                                  "Content-Length: 4\r\n\r\nbody"));
        QCOMPARE(serializeRequest("GET", "/", "h", {}, {}), QByteArray("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
        QCOMPARE(serializeRequest("POST", "/", "h", {}, {}),
                 QByteArray("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"));
    }

    void responseHeadFraming_data()
    {
        QTest::addColumn<int>("status");
        QTest::addColumn<QByteArray>("body");
        QTest::addColumn<int>("versionMinor");
        QTest::addColumn<bool>("headRequest");
        QTest::addColumn<bool>("close");
        QTest::addColumn<bool>("stream");
        QTest::addColumn<QByteArray>("expected");
        QTest::newRow("plain") << 200 << QByteArray("abc") << 1 << false << false << false
                               << QByteArray("HTTP/1.1 200 OK\r\nX: y\r\nContent-Length: 3\r\n\r\n");
        QTest::newRow("HEAD keeps announced length") << 200 << QByteArray() << 1 << true << false << false
                               << QByteArray("HTTP/1.1 200 OK\r\nX: y\r\nContent-Length: 42\r\n\r\n");
        QTest::newRow("close") << 404 << QByteArray() << 1 << false << true << false
                               << QByteArray("HTTP/1.1 404 Not Found\r\nX: y\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        QTest::newRow("HTTP/1.0 keep-alive") << 200 << QByteArray("a") << 0 << false << false << false
                               << QByteArray("HTTP/1.1 200 OK\r\nX: y\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n");
        QTest::newRow("304 no length") << 304 << QByteArray() << 1 << false << false << false
                               << QByteArray("HTTP/1.1 304 Not Modified\r\nX: y\r\n\r\n");
        QTest::newRow("stream") << 200 << QByteArray() << 1 << false << false << true
                               << QByteArray("HTTP/1.1 200 OK\r\nX: y\r\nTransfer-Encoding: chunked\r\n\r\n");
    }
    void responseHeadFraming()
    {
        QFETCH(int, status);
        QFETCH(QByteArray, body);
        QFETCH(int, versionMinor);
        QFETCH(bool, headRequest);
        QFETCH(bool, close);
        QFETCH(bool, stream);
        QFETCH(QByteArray, expected);
        Response r;
        r.status = status;
        r.body = body;
        // Framing fields of the caller never reach the wire; a line break drops a field.
        r.headers = HttpHeaders{{"X", "y"}, {"Content-Length", "42"}, {"Transfer-Encoding", "gzip"},
                                {"Connection", "upgrade"}, {"Z", "a\r\nInjected: 1"}};
        QByteArray out;
        appendResponseHead(out, r, ResponseFraming{versionMinor, headRequest, close, stream});
        QCOMPARE(out, expected);
    }

    void headerRules()
    {
        QVERIFY(isToken("X-Mp-App"));
        QVERIFY(!isToken("Host "));
        QVERIFY(!isToken(""));
        QVERIFY(isHopByHopField("Keep-Alive"));
        QVERIFY(!isHopByHopField("Authorization"));
        QVERIFY(isNeverForwardedRequestField("host"));
        QVERIFY(!isNeverForwardedRequestField("cookie"));
        HttpHeaders h{{"Connection", "close, X-A"}, {"x-a", "1"}, {"X-B", "2"}, {"Upgrade", "h2c"}};
        removeHopByHop(h);
        QCOMPARE(h, (HttpHeaders{{"X-B", "2"}}));
        HttpHeaders request{{"Host", "h"}, {"Expect", "100-continue"}, {"Content-Length", "1"},
                            {"Proxy-Authorization", "Bearer t"}, {"Connection", "X-C"}, {"X-C", "3"},
                            {"Cookie", "c=1"}};
        removeNeverForwarded(request);
        QCOMPARE(request, (HttpHeaders{{"Cookie", "c=1"}}));
        qint64 v = -1;
        QVERIFY(parseDecimal(" 42 ", &v));
        QCOMPARE(v, 42);
        QVERIFY(!parseDecimal("4 2", &v));
        QVERIFY(!parseDecimal("-1", &v));
        QByteArray n;
        appendNumber(n, 255, 16);
        QCOMPARE(n, QByteArray("ff"));
        QCOMPARE(reasonFor(404), QByteArray("Not Found"));
    }
};

QTEST_GUILESS_MAIN(TestHttpWire)
#include "tst_httpwire.moc"
