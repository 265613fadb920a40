// get and post: one request through the daemon, the body to stdout.
#include "ClientCommand.h"

#include "prawmp/Reply.h"
#include "prawmp/Request.h"

#include <QFile>

#include <cstdio>

namespace prawmp::cli {

namespace {

const QByteArray kUserAgent = QByteArrayLiteral("praw-multiprocess-client/" PRAWMP_VERSION);

// Absolute URLs are forwarded to their host, paths are routed by the daemon.
bool parseTarget(const QString &text, QUrl *url, QString *error)
{
    QString t = text.trimmed();
    if (t.isEmpty()) {
        *error = QStringLiteral("empty URL");
        return false;
    }
    const bool absolute = t.startsWith(QLatin1String("http://"), Qt::CaseInsensitive)
                          || t.startsWith(QLatin1String("https://"), Qt::CaseInsensitive);
    if (!absolute && !t.startsWith(u'/'))
        t.prepend(u'/');
    const QUrl parsed(t, QUrl::TolerantMode);
    if (!parsed.isValid() || (absolute && parsed.host().isEmpty())) {
        *error = QStringLiteral("%1 is not a URL or path").arg(text);
        return false;
    }
    *url = parsed;
    return true;
}

bool parseHeaders(const QStringList &fields, HttpHeaders *headers, QString *error)
{
    for (const QString &field : fields) {
        const qsizetype colon = field.indexOf(u':');
        const QString name = colon < 0 ? QString() : field.left(colon).trimmed();
        if (name.isEmpty() || name.contains(u' ')) {
            *error = QStringLiteral("-H %1: expected 'Name: value'").arg(field);
            return false;
        }
        headers->add(name.toLatin1(), field.mid(colon + 1).trimmed().toUtf8());
    }
    return true;
}

QByteArray responseHead(const Response &response)
{
    QByteArray head = "HTTP/1.1 " + QByteArray::number(response.status) + ' ' + response.reason + "\r\n";
    for (const HttpHeaders::Field &f : response.headers.fields())
        head += f.first + ": " + f.second + "\r\n";
    return head + "\r\n";
}

// Sends the request and prints the answer; finishes the command.
void sendAndPrint(CommandContext &context, const Request &request, bool include)
{
    Reply *reply = context.handler().request(request);
    QObject::connect(reply, &Reply::finished, reply, [&context, reply, include] {
        reply->deleteLater();
        if (reply->error()) {
            context.finish(context.reportError(reply->error()));
            return;
        }
        const Response &response = reply->response();
        if (include)
            context.writeOut(responseHead(response));
        context.writeOut(response.body);
        if (response.status >= 400) {
            context.writeError(QStringLiteral("HTTP %1 %2").arg(response.status).arg(QString::fromUtf8(response.reason)));
            context.finish(ExitHttpError);
            return;
        }
        context.finish(ExitSuccess);
    });
}

struct RequestOptions
{
    QCommandLineOption header{{QStringLiteral("H"), QStringLiteral("header")},
                              QStringLiteral("Adds a header field (repeatable), e.g. -H 'Authorization: bearer TOKEN'."),
                              QStringLiteral("'Name: value'")};
    QCommandLineOption include{{QStringLiteral("i"), QStringLiteral("include")},
                               QStringLiteral("Print the status line and header fields before the body.")};
    QCommandLineOption maxWait{QStringLiteral("max-wait"),
                               QStringLiteral("Fail with 503 at once if the daemon expects a longer wait (X-Mp-Max-Wait)."),
                               QStringLiteral("SECONDS")};

    void addTo(QCommandLineParser &parser) const
    {
        parser.addOption(header);
        parser.addOption(include);
        parser.addOption(maxWait);
    }

    // Fills the request from the command line; ExitUsage on bad values.
    int read(CommandContext &context, const QCommandLineParser &parser, const QString &command, Request *request) const
    {
        const QStringList positional = parser.positionalArguments();
        if (positional.size() != 1)
            return context.usageError(positional.isEmpty() ? QStringLiteral("%1: missing URL").arg(command)
                                                           : QStringLiteral("%1: one URL only").arg(command),
                                      command);
        QString error;
        if (!parseTarget(positional.first(), &request->url, &error)
            || !parseHeaders(parser.values(header), &request->headers, &error))
            return context.usageError(error, command);
        if (!request->headers.contains("user-agent"))
            request->headers.set("User-Agent", kUserAgent);
        if (parser.isSet(maxWait)) {
            bool ok = false;
            request->maxWaitSeconds = parser.value(maxWait).toDouble(&ok);
            if (!ok || request->maxWaitSeconds < 0)
                return context.usageError(QStringLiteral("--max-wait: %1 is not a number of seconds").arg(parser.value(maxWait)),
                                          command);
        }
        return kRunning;
    }
};

int runGet(CommandContext &context, const Command &command, const QStringList &arguments)
{
    QCommandLineParser parser;
    RequestOptions options;
    options.addTo(parser);
    parser.addPositionalArgument(QStringLiteral("URL"), QStringLiteral("An absolute URL or a path such as /r/python/hot.json."));
    if (const int code = context.parse(parser, command, arguments); code != kRunning)
        return code;
    Request request;
    request.method = "GET";
    if (const int code = options.read(context, parser, command.name, &request); code != kRunning)
        return code;
    sendAndPrint(context, request, parser.isSet(options.include));
    return kRunning;
}

// --data D, @FILE or @- (standard input), as curl reads it.
bool readData(const QString &value, QByteArray *data, QString *error)
{
    if (!value.startsWith(u'@')) {
        *data = value.toUtf8();
        return true;
    }
    const QString path = value.mid(1);
    QFile file;
    const bool opened = path == u"-" ? file.open(stdin, QIODevice::ReadOnly)
                                     : (file.setFileName(path), file.open(QIODevice::ReadOnly));
    if (!opened) {
        *error = QStringLiteral("--data %1: %2").arg(value, file.errorString());
        return false;
    }
    *data = file.readAll();
    return true;
}

int runPost(CommandContext &context, const Command &command, const QStringList &arguments)
{
    QCommandLineParser parser;
    RequestOptions options;
    options.addTo(parser);
    const QCommandLineOption data({QStringLiteral("d"), QStringLiteral("data")},
                                  QStringLiteral("The request body; @FILE reads a file, @- standard input. "
                                                 "Content-Type defaults to application/x-www-form-urlencoded."),
                                  QStringLiteral("DATA"));
    const QCommandLineOption retryWrites(QStringLiteral("retry-writes"),
                                         QStringLiteral("Send the request again if its answer is lost (only for requests "
                                                        "that are safe to repeat). Default: never resend."));
    parser.addOption(data);
    parser.addOption(retryWrites);
    parser.addPositionalArgument(QStringLiteral("URL"), QStringLiteral("An absolute URL or a path such as /api/comment."));
    if (const int code = context.parse(parser, command, arguments); code != kRunning)
        return code;
    Request request;
    request.method = "POST";
    if (const int code = options.read(context, parser, command.name, &request); code != kRunning)
        return code;
    if (!parser.isSet(data))
        return context.usageError(QStringLiteral("post: missing --data"), command.name);
    QString error;
    if (!readData(parser.value(data), &request.body, &error))
        return context.usageError(error, command.name);
    if (!request.headers.contains("content-type"))
        request.headers.set("Content-Type", "application/x-www-form-urlencoded");
    context.handler().setRetryUnsafeRequests(parser.isSet(retryWrites));
    sendAndPrint(context, request, parser.isSet(options.include));
    return kRunning;
}

} // namespace

QList<Command> requestCommands()
{
    QList<Command> commands;
    commands.append({QStringLiteral("get"), QStringLiteral("URL [-H 'Name: value']... [-i]"),
                     QStringLiteral("GET through the daemon (cached, rate-limited); the body goes to stdout."), {}});
    commands.append({QStringLiteral("post"), QStringLiteral("URL --data DATA [-H 'Name: value']... [--retry-writes]"),
                     QStringLiteral("POST through the daemon; never sent twice unless --retry-writes."), {}});
    const Command get = commands[0];
    const Command post = commands[1];
    commands[0].run = [get](CommandContext &c, const QStringList &a) { return runGet(c, get, a); };
    commands[1].run = [post](CommandContext &c, const QStringList &a) { return runPost(c, post, a); };
    return commands;
}

} // namespace prawmp::cli
