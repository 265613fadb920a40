// needs: praw-multiprocess
// The TLS listener (--tls-cert, --tls-key): the real daemon process speaks
// HTTPS with a self-signed certificate the test makes with the openssl CLI,
// checked with `curl --cacert` and a verifying QSslSocket; keep-alive,
// pipelining, a large answer before a close, the proxy token over TLS,
// plain HTTP and silent clients on the TLS port, bad files, the access rule
// for non-loopback addresses, and SIGHUP taking a renewed certificate.
#include "DaemonTestKit.h"

#include "DaemonOptions.h"

#include <QFile>
#include <QProcess>
#include <QSslCertificate>
#include <QSslConfiguration>
#include <QSslSocket>
#include <QStandardPaths>
#include <QTemporaryDir>

#include <csignal>

using namespace dtk;
using prawmp::test::FakeReddit;

namespace {

struct ProcessResult
{
    int exitCode = -1;
    bool finished = false;
    QByteArray out;
    QByteArray err;
    QString describe() const
    {
        return QStringLiteral("exit %1%2\nstdout: %3\nstderr: %4")
            .arg(exitCode)
            .arg(finished ? QString() : QStringLiteral(" (did not finish)"))
            .arg(QString::fromUtf8(out.left(2000)), QString::fromUtf8(err.left(2000)));
    }
};

// Runs a tool without blocking the event loop: the fake upstream lives in
// this process and must keep answering the daemon meanwhile.
ProcessResult run(const QString &program, const QStringList &args, int timeoutMs = 30'000)
{
    QProcess p;
    p.setProgram(program);
    p.setArguments(args);
    p.start();
    ProcessResult r;
    if (!p.waitForStarted(5000))
        return r;
    r.finished = QTest::qWaitFor([&] { return p.state() == QProcess::NotRunning; }, timeoutMs);
    if (!r.finished) {
        p.kill();
        p.waitForFinished(2000);
    }
    r.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = p.readAllStandardOutput();
    r.err = p.readAllStandardError();
    return r;
}

bool makeCertificate(const QString &openssl, const QString &dir, const QString &cn, QString *why)
{
    const ProcessResult r = run(openssl, {"req", "-x509", "-newkey", "rsa:2048", "-nodes",
                                          "-subj", "/CN=" + cn,
                                          "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                                          "-days", "1",
                                          "-keyout", dir + "/key.pem", "-out", dir + "/cert.pem"});
    if (r.exitCode != 0) {
        *why = r.describe();
        return false;
    }
    return true;
}

// An HTTPS client that verifies the daemon against the test's certificate.
class TlsClient
{
public:
    TlsClient(quint16 port, const QList<QSslCertificate> &trusted)
    {
        QSslConfiguration c = QSslConfiguration::defaultConfiguration();
        c.setCaCertificates(trusted);
        c.setPeerVerifyMode(QSslSocket::VerifyPeer);
        m_socket.setSslConfiguration(c);
        QObject::connect(&m_socket, &QSslSocket::readyRead, &m_socket, [this] { read(false); });
        QObject::connect(&m_socket, &QSslSocket::disconnected, &m_socket, [this] {
            m_closed = true;
            read(true);
        });
        QObject::connect(&m_socket, &QSslSocket::sslErrors, &m_socket,
                         [this](const QList<QSslError> &errors) { m_sslErrors += errors; });
        m_socket.connectToHostEncrypted(QStringLiteral("127.0.0.1"), port);
    }
    ~TlsClient() { QObject::disconnect(&m_socket, nullptr, &m_socket, nullptr); }

    bool waitEncrypted(int timeoutMs = 10'000)
    {
        return QTest::qWaitFor([this] { return m_socket.isEncrypted() || m_closed; }, timeoutMs)
            && m_socket.isEncrypted();
    }
    void write(const QByteArray &bytes, int requests = 1)
    {
        for (int i = 0; i < requests; ++i)
            m_reader.expect(false);
        m_socket.write(bytes);
    }
    bool waitForResponses(int count, int timeoutMs = 15'000)
    {
        return QTest::qWaitFor([&] { return m_responses.size() >= count || m_closed; }, timeoutMs)
            && m_responses.size() >= count;
    }
    bool waitForClosed(int timeoutMs = 10'000)
    {
        return QTest::qWaitFor([this] { return m_closed; }, timeoutMs);
    }
    const QList<RawResponse> &responses() const { return m_responses; }
    // Bytes not (yet) parsed as whole answers: the head and frames of a stream.
    QByteArray unparsed() const { return m_buffer; }
    QSslCertificate peerCertificate() const { return m_socket.peerCertificate(); }
    QString errors() const
    {
        QStringList e;
        for (const QSslError &s : m_sslErrors)
            e << s.errorString();
        return e.join(u"; ") + u' ' + m_socket.errorString();
    }

private:
    void read(bool eof)
    {
        m_buffer += m_socket.readAll();
        m_responses += m_reader.parse(m_buffer, eof, dtk::clock().elapsed());
    }

    QSslSocket m_socket;
    ResponseReader m_reader;
    QByteArray m_buffer;
    QList<RawResponse> m_responses;
    QList<QSslError> m_sslErrors;
    bool m_closed = false;
};

} // namespace

class TestTls : public QObject
{
    Q_OBJECT

private:
    FakeReddit m_reddit;
    QTemporaryDir m_dir;
    QString m_openssl;
    QString m_curl;
    QList<QSslCertificate> m_trusted;

    QString cert() const { return m_dir.filePath(QStringLiteral("cert.pem")); }
    QString key() const { return m_dir.filePath(QStringLiteral("key.pem")); }

    QStringList tlsArgs() const
    {
        return {"--addr", "127.0.0.1", "--upstream", upstreamArg(m_reddit.port()), "--rate-mode", "fixed",
                "--delay", "0", "--tls-cert", cert(), "--tls-key", key()};
    }

    // curl over HTTPS trusting only the test's certificate; the output is
    // the header block, then the body.
    ProcessResult curl(const QString &url, const QStringList &extra = {}, bool trust = true)
    {
        QStringList args{"-sS", "--noproxy", "*", "--max-time", "20", "-D", "-"};
        if (trust)
            args << "--cacert" << cert();
        return run(m_curl, args + extra + QStringList{url});
    }

    static RawResponse parseCurl(const QByteArray &out)
    {
        QByteArray buffer = out;
        ResponseReader reader;
        reader.expect(false);
        const QList<RawResponse> r = reader.parse(buffer, true, 0);
        return r.isEmpty() ? RawResponse() : r.last();
    }

private slots:
    void initTestCase()
    {
        if (prawmp::test::daemonProgram().isEmpty())
            QSKIP("praw-multiprocess is not built");
        m_openssl = QStandardPaths::findExecutable(QStringLiteral("openssl"));
        m_curl = QStandardPaths::findExecutable(QStringLiteral("curl"));
        if (m_openssl.isEmpty() || m_curl.isEmpty())
            QSKIP("needs the openssl and curl programs (scripts/install-deps)");
        if (!QSslSocket::supportsSsl())
            QSKIP("Qt has no TLS backend here");
        QVERIFY(m_dir.isValid());
        QString why;
        QVERIFY2(makeCertificate(m_openssl, m_dir.path(), QStringLiteral("localhost"), &why), qPrintable(why));
        m_trusted = QSslCertificate::fromPath(cert());
        QCOMPARE(m_trusted.size(), 1);
        QVERIFY(m_reddit.listen());
    }
    void init() { m_reddit.clearLog(); }

    void curlGetsCachedAnswersOverHttps()
    {
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, tlsArgs()), qPrintable(daemon.describe()));
        const QString base = QStringLiteral("https://127.0.0.1:%1").arg(daemon.port());

        ProcessResult r = curl(base + "/r/tlstest/hot.json?limit=2");
        QVERIFY2(r.exitCode == 0, qPrintable(r.describe()));
        RawResponse a = parseCurl(r.out);
        QCOMPARE(a.status, 200);
        QCOMPARE(a.header("x-cache"), QByteArray("MISS"));
        QCOMPARE(a.json()["sub"].toString(), QStringLiteral("tlstest"));

        r = curl(base + "/r/tlstest/hot.json?limit=2");
        QVERIFY2(r.exitCode == 0, qPrintable(r.describe()));
        a = parseCurl(r.out);
        QCOMPARE(a.status, 200);
        QCOMPARE(a.header("x-cache"), QByteArray("HIT"));
        QCOMPARE(m_reddit.targetCount("/r/tlstest/hot.json?limit=2"), 1);

        // The certificate's DNS name works as well as its IP address.
        r = curl(QStringLiteral("https://localhost:%1/_mp/health").arg(daemon.port()));
        QVERIFY2(r.exitCode == 0, qPrintable(r.describe()));
        QCOMPARE(parseCurl(r.out).json()["status"].toString(), QStringLiteral("ok"));

        QVERIFY2(daemon.stop(), qPrintable(daemon.describe()));
    }

    void untrustedCertificateIsRefusedByCurl()
    {
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, tlsArgs()), qPrintable(daemon.describe()));
        // Without --cacert, curl cannot verify the self-signed certificate
        // (exit 60): the daemon really presents the test's certificate.
        const ProcessResult r = curl(QStringLiteral("https://127.0.0.1:%1/_mp/health").arg(daemon.port()), {}, false);
        QCOMPARE(r.exitCode, 60);
        QCOMPARE(m_reddit.requestCount(), 0);
        QVERIFY2(daemon.stop(), qPrintable(daemon.describe()));
    }

    void keepAliveAndPipeliningOverTls()
    {
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, tlsArgs()), qPrintable(daemon.describe()));
        TlsClient client(daemon.port(), m_trusted);
        QVERIFY2(client.waitEncrypted(), qPrintable(client.errors()));
        QCOMPARE(client.peerCertificate(), m_trusted.first());

        QByteArray burst;
        for (int i = 0; i < 5; ++i)
            burst += get("/r/pipe" + QByteArray::number(i) + "/hot.json?limit=1");
        client.write(burst, 5);
        QVERIFY2(client.waitForResponses(5), qPrintable(daemon.describe()));
        for (int i = 0; i < 5; ++i) {
            const RawResponse &r = client.responses().at(i);
            QCOMPARE(r.status, 200);
            QCOMPARE(r.json()["sub"].toString(), QStringLiteral("pipe%1").arg(i));
        }
        // Same connection, later request.
        client.write(get("/_mp/health"));
        QVERIFY(client.waitForResponses(6));
        QCOMPARE(client.responses().at(5).json()["status"].toString(), QStringLiteral("ok"));
        QVERIFY2(daemon.stop(), qPrintable(daemon.describe()));
    }

    // The serving threads speak TLS themselves: hits, misses (pipelined too),
    // POSTs, long bodies, control requests and the event stream are all
    // answered there; a connection never moves (the hits after a long POST
    // on it are still counted as the serving threads'). Over --max-clients
    // the 503 comes over TLS.
    void servingThreadsSpeakTls()
    {
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, tlsArgs() + QStringList{"--threads", "2", "--max-clients", "3"}),
                 qPrintable(daemon.describe()));
        TlsClient client(daemon.port(), m_trusted);
        QVERIFY2(client.waitEncrypted(), qPrintable(client.errors()));
        const auto ask = [&](const QByteArray &request) {
            const qsizetype before = client.responses().size();
            client.write(request);
            return client.waitForResponses(int(before) + 1) ? client.responses().at(before) : RawResponse();
        };
        const auto engine = [&](const char *field) {
            return ask(get("/_mp/stats")).json()["engine"].toObject()[QLatin1String(field)].toInteger();
        };
        QCOMPARE(ask(get("/r/tlsthreads/hot.json")).header("x-cache"), QByteArray("MISS"));
        QCOMPARE(ask(get("/r/tlsthreads/hot.json")).header("x-cache"), QByteArray("HIT"));
        QCOMPARE(ask(httpRequest("POST", "/api/comment", {}, "text=tls")).header("x-cache"), QByteArray("BYPASS"));
        QCOMPARE(engine("servingThreadHits"), 1);

        TlsClient events(daemon.port(), m_trusted);
        QVERIFY2(events.waitEncrypted(), qPrintable(events.errors()));
        events.write(get("/_mp/events"), 0);
        QVERIFY2(QTest::qWaitFor([&] { return events.unparsed().contains("event: stats"); }, 5000),
                 qPrintable(QString::fromLatin1(events.unparsed())));
        QVERIFY(events.unparsed().startsWith("HTTP/1.1 200"));
        QVERIFY(events.unparsed().contains("Transfer-Encoding: chunked"));
        QCOMPARE(ask(get("/_mp/health")).json()["connections"].toInt(), 2); // the subscriber counted once
        // Misses pipelined: answered in order on the serving thread.
        qsizetype before = client.responses().size();
        client.write(get("/r/tlspipe0/hot.json") + get("/r/tlspipe1/hot.json"), 2);
        QVERIFY(client.waitForResponses(int(before) + 2));
        QCOMPARE(client.responses().at(before).json()["sub"].toString(), QStringLiteral("tlspipe0"));
        QCOMPARE(client.responses().at(before + 1).json()["sub"].toString(), QStringLiteral("tlspipe1"));
        // A body longer than a serving thread reads at once: read on there,
        // over many reads, and its client known by its address.
        before = client.responses().size();
        client.write(httpRequest("POST", "/api/comment", {{"User-Agent", "tls-longpost/1.0"}},
                                 QByteArray(100 * 1024, 'b')));
        QVERIFY(client.waitForResponses(int(before) + 1));
        QCOMPARE(client.responses().at(before).header("x-cache"), QByteArray("BYPASS"));
        QCOMPARE(ask(get("/r/tlsthreads/hot.json")).header("x-cache"), QByteArray("HIT"));
        QCOMPARE(engine("servingThreadHits"), 2); // the connection is still the serving thread's
        QString longPostPeer;
        for (const QJsonValue &v : ask(get("/_mp/stats")).json()["clients"].toArray())
            if (v.toObject()["userAgent"].toString() == u"tls-longpost/1.0")
                longPostPeer = v.toObject()["peer"].toString();
        QCOMPARE(longPostPeer, QStringLiteral("127.0.0.1"));
        QCOMPARE(ask(get("/_mp/health")).json()["connections"].toInt(), 2);

        TlsClient third(daemon.port(), m_trusted);
        QVERIFY2(third.waitEncrypted(), qPrintable(third.errors()));
        TlsClient fourth(daemon.port(), m_trusted);
        QVERIFY2(fourth.waitEncrypted(), qPrintable(fourth.errors()));
        fourth.write(get("/_mp/health"));
        QVERIFY(fourth.waitForResponses(1));
        QCOMPARE(fourth.responses().first().status, 503);
        QCOMPARE(fourth.responses().first().json()["error"].toString(), QStringLiteral("too_many_clients"));
        QVERIFY(fourth.waitForClosed());
        QVERIFY(!events.unparsed().isEmpty());
        QVERIFY2(daemon.stop(), qPrintable(daemon.describe()));
    }

    void largeAnswerBeforeCloseArrivesWhole()
    {
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, tlsArgs()), qPrintable(daemon.describe()));
        const QByteArray target = "/r/large/hot.json?limit=100";

        // The answer is the last on its connection: the close must wait
        // until every encrypted byte is out, and end the TLS session cleanly.
        TlsClient client(daemon.port(), m_trusted);
        QVERIFY2(client.waitEncrypted(), qPrintable(client.errors()));
        client.write(get(target, {{"Connection", "close"}}));
        QVERIFY2(client.waitForResponses(1), qPrintable(daemon.describe()));
        const RawResponse r = client.responses().first();
        QCOMPARE(r.status, 200);
        QVERIFY2(r.body.size() > 30'000, qPrintable(QString::number(r.body.size())));
        QCOMPARE(r.json()["data"].toObject()["dist"].toInt(), 100);
        QVERIFY(client.waitForClosed());

        // curl sees a complete answer and a clean end (no "unexpected eof").
        const ProcessResult c = curl(QStringLiteral("https://127.0.0.1:%1").arg(daemon.port()) + QString::fromLatin1(target),
                                     {"-H", "Connection: close"});
        QVERIFY2(c.exitCode == 0, qPrintable(c.describe()));
        QCOMPARE(parseCurl(c.out).body, r.body);
        QVERIFY2(daemon.stop(), qPrintable(daemon.describe()));
    }

    void proxyTokenTravelsEncrypted()
    {
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, tlsArgs() + QStringList{"--auth-token", "TlsT0ken"}), qPrintable(daemon.describe()));
        const QString url = QStringLiteral("https://127.0.0.1:%1/r/tok/hot.json?limit=1").arg(daemon.port());
        ProcessResult r = curl(url);
        QVERIFY2(r.exitCode == 0, qPrintable(r.describe()));
        QCOMPARE(parseCurl(r.out).status, 407);
        r = curl(url, {"-H", "Proxy-Authorization: Bearer TlsT0ken"});
        QVERIFY2(r.exitCode == 0, qPrintable(r.describe()));
        QCOMPARE(parseCurl(r.out).status, 200);
        QVERIFY2(!daemon.standardError().contains(QStringLiteral("TlsT0ken")), qPrintable(daemon.describe()));
        QVERIFY2(daemon.stop(), qPrintable(daemon.describe()));
    }

    void plainHttpAndSilentClientsDoNotDisturb()
    {
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, tlsArgs() + QStringList{"--header-timeout", "1"}), qPrintable(daemon.describe()));

        // Plain HTTP on the TLS port: no HTTP answer (the handshake fails), the connection ends.
        RawClient plain(daemon.port());
        QVERIFY(plain.waitConnected());
        plain.write(get("/_mp/health"));
        QVERIFY(plain.waitForClosed(10'000));
        QVERIFY2(plain.responses().isEmpty(), qPrintable(plain.responses().value(0).describe()));

        // A client that connects and never starts its handshake is dropped
        // after the handshake timeout (--header-timeout).
        RawClient silent(daemon.port());
        QVERIFY(silent.waitConnected());
        QElapsedTimer t;
        t.start();
        QVERIFY(silent.waitForClosed(10'000));
        QVERIFY2(t.elapsed() < 8000, qPrintable(QString::number(t.elapsed())));

        // Garbage that looks like a ClientHello.
        RawClient garbage(daemon.port());
        QVERIFY(garbage.waitConnected());
        garbage.write(QByteArray("\x16\x03\x01\x00\x10", 5) + QByteArray(16, '\xff'));
        QVERIFY(garbage.waitForClosed(10'000));

        const ProcessResult r = curl(QStringLiteral("https://127.0.0.1:%1/_mp/health").arg(daemon.port()));
        QVERIFY2(r.exitCode == 0, qPrintable(r.describe()));
        QCOMPARE(parseCurl(r.out).status, 200);
        QVERIFY(daemon.isRunning());
        QVERIFY2(daemon.stop(), qPrintable(daemon.describe()));
    }

    void badCertificateFilesStopTheStart_data()
    {
        QTest::addColumn<QString>("certFile");
        QTest::addColumn<QString>("keyFile");
        QTest::addColumn<QString>("expected");
        QTest::newRow("missing certificate") << "missing.pem" << "key.pem" << "missing.pem";
        QTest::newRow("missing key") << "cert.pem" << "missing-key.pem" << "missing-key.pem";
        QTest::newRow("not a certificate") << "garbage.pem" << "key.pem" << "no PEM certificate";
        QTest::newRow("certificate as key") << "cert.pem" << "cert.pem" << "no unencrypted PEM private key";
    }

    void badCertificateFilesStopTheStart()
    {
        QFETCH(QString, certFile);
        QFETCH(QString, keyFile);
        QFETCH(QString, expected);
        QFile garbage(m_dir.filePath(QStringLiteral("garbage.pem")));
        QVERIFY(garbage.open(QIODevice::WriteOnly));
        garbage.write("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n");
        garbage.close();

        ProcessFixture daemon;
        QVERIFY(!startDaemon(daemon, {"--addr", "127.0.0.1", "--tls-cert", m_dir.filePath(certFile),
                                      "--tls-key", m_dir.filePath(keyFile)}, 5000));
        QVERIFY(daemon.waitForFinished(5000));
        QCOMPARE(daemon.exitCode(), 1); // like a bind error: the reason, exit 1
        QVERIFY2(daemon.standardError().contains(expected), qPrintable(daemon.describe()));
        QVERIFY2(!daemon.standardError().contains(QStringLiteral("PRIVATE KEY")), qPrintable(daemon.describe()));
        QVERIFY(!daemon.standardOutput().contains(QStringLiteral("Listening on")));
    }

    void certificateAndKeyGoTogether()
    {
        ProcessFixture daemon;
        QVERIFY(!startDaemon(daemon, {"--addr", "127.0.0.1", "--tls-cert", cert()}, 5000));
        QVERIFY(daemon.waitForFinished(5000));
        QCOMPARE(daemon.exitCode(), 2);
        QVERIFY2(daemon.standardError().contains(QStringLiteral("--tls-key")), qPrintable(daemon.describe()));
    }

    // TLS hides the token on the wire; it does not replace it. A listener
    // on a non-loopback address still needs --auth-token or --insecure.
    void nonLoopbackTlsStillNeedsTokenOrInsecure()
    {
        ProcessFixture daemon;
        QVERIFY(!startDaemon(daemon, {"--addr", "0.0.0.0", "--tls-cert", cert(), "--tls-key", key()}, 5000));
        QVERIFY(daemon.waitForFinished(5000));
        QCOMPARE(daemon.exitCode(), 2);
        QVERIFY2(daemon.standardError().contains(QStringLiteral("--auth-token")), qPrintable(daemon.describe()));
        QVERIFY2(daemon.standardError().contains(QStringLiteral("--insecure")), qPrintable(daemon.describe()));

        // With a token (or --insecure) the options are accepted (checked
        // without binding to every interface of this machine).
        for (const QString &extra : {QStringLiteral("--auth-token=T0ken"), QStringLiteral("--insecure")}) {
            prawmp::DaemonOptionsParser parser;
            const auto r = parser.parse({"praw-multiprocess", "--addr", "0.0.0.0", "--tls-cert", cert(),
                                         "--tls-key", key(), extra});
            QVERIFY2(r.ok(), qPrintable(r.error));
            QVERIFY(r.options.usesTls());
        }
    }

    void sighupTakesARenewedCertificate()
    {
        QTemporaryDir renewDir;
        QVERIFY(renewDir.isValid());
        QVERIFY(QFile::copy(cert(), renewDir.filePath(QStringLiteral("cert.pem"))));
        QVERIFY(QFile::copy(key(), renewDir.filePath(QStringLiteral("key.pem"))));
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, {"--addr", "127.0.0.1", "--upstream", upstreamArg(m_reddit.port()),
                                      "--tls-cert", renewDir.filePath("cert.pem"),
                                      "--tls-key", renewDir.filePath("key.pem")}),
                 qPrintable(daemon.describe()));
        TlsClient before(daemon.port(), m_trusted);
        QVERIFY2(before.waitEncrypted(), qPrintable(before.errors()));

        // Renewed in place, as certbot does, then SIGHUP.
        QString why;
        QVERIFY2(makeCertificate(m_openssl, renewDir.path(), QStringLiteral("renewed"), &why), qPrintable(why));
        const QList<QSslCertificate> renewed = QSslCertificate::fromPath(renewDir.filePath("cert.pem"));
        QCOMPARE(renewed.size(), 1);
        const qsizetype lines = daemon.lineCount();
        QVERIFY(daemon.sendSignal(SIGHUP));
        QVERIFY2(daemon.waitForOutput(QRegularExpression(QStringLiteral("TLS certificate reloaded")), 5000, lines)
                     .hasMatch(),
                 qPrintable(daemon.describe()));

        TlsClient after(daemon.port(), renewed);
        QVERIFY2(after.waitEncrypted(), qPrintable(after.errors()));
        QCOMPARE(after.peerCertificate().subjectInfo(QSslCertificate::CommonName),
                 QStringList{QStringLiteral("renewed")});
        // The connection made before keeps working.
        before.write(get("/_mp/health"));
        QVERIFY(before.waitForResponses(1));
        QCOMPARE(before.responses().first().status, 200);

        // A broken renewal keeps the current certificate.
        QFile broken(renewDir.filePath("key.pem"));
        QVERIFY(broken.open(QIODevice::WriteOnly | QIODevice::Truncate));
        broken.write("nothing");
        broken.close();
        const qsizetype lines2 = daemon.lineCount();
        QVERIFY(daemon.sendSignal(SIGHUP));
        QVERIFY2(daemon.waitForOutput(QRegularExpression(QStringLiteral("TLS certificate not reloaded")), 5000, lines2)
                     .hasMatch(),
                 qPrintable(daemon.describe()));
        TlsClient still(daemon.port(), renewed);
        QVERIFY2(still.waitEncrypted(), qPrintable(still.errors()));
        QVERIFY2(daemon.stop(), qPrintable(daemon.describe()));
    }
};

QTEST_GUILESS_MAIN(TestTls)
#include "tst_tls.moc"
