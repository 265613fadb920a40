// health and stats: what the daemon is doing, once or live.
#include "ClientCommand.h"
#include "StatsView.h"

#include "prawmp/Reply.h"
#include "prawmp/Request.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QTimer>

#include <cstdio>
#include <unistd.h>

namespace prawmp::cli {

namespace {

// GETs a control endpoint; hands a 200 answer's body to `use`, reports the rest.
void getControl(CommandContext &context, const QString &path, std::function<int(const QByteArray &)> use)
{
    Request request;
    request.url = QUrl(path);
    Reply *reply = context.handler().request(request);
    QObject::connect(reply, &Reply::finished, reply, [&context, reply, use = std::move(use)] {
        reply->deleteLater();
        if (reply->error()) {
            context.finish(context.reportError(reply->error()));
            return;
        }
        const Response &response = reply->response();
        if (response.status != 200) {
            context.writeOut(response.body + (response.body.endsWith('\n') ? "" : "\n"));
            context.writeError(QStringLiteral("HTTP %1 %2").arg(response.status).arg(QString::fromUtf8(response.reason)));
            context.finish(response.status >= 400 ? ExitHttpError : ExitFailure);
            return;
        }
        context.finish(use(response.body));
    });
}

int runHealth(CommandContext &context, const Command &command, const QStringList &arguments)
{
    QCommandLineParser parser;
    if (const int code = context.parse(parser, command, arguments); code != kRunning)
        return code;
    if (!parser.positionalArguments().isEmpty())
        return context.usageError(QStringLiteral("health takes no arguments"), command.name);
    getControl(context, QStringLiteral("/_mp/health"), [&context](const QByteArray &body) {
        context.writeOut(body + (body.endsWith('\n') ? "" : "\n"));
        return int(ExitSuccess);
    });
    return kRunning;
}

// `stats --watch`: redraws the view on every "stats" frame of /_mp/events.
class StatsWatch : public QObject
{
public:
    StatsWatch(CommandContext &context, int maxFrames, double seconds)
        : m_context(context), m_maxFrames(maxFrames), m_clearScreen(::isatty(STDOUT_FILENO) == 1)
    {
        m_stream = context.handler().openEventStream(this);
        connect(m_stream, &DaemonEventStream::eventReceived, this, &StatsWatch::onEvent);
        connect(m_stream, &DaemonEventStream::disconnected, this, [this] {
            m_context.writeError(QStringLiteral("lost the daemon; reconnecting..."));
        });
        connect(m_stream, &DaemonEventStream::failed, this, [this](const Error &error, int status) {
            if (error.kind == Error::Kind::Canceled)
                return; // the handler is going away with the process
            m_context.finish(status >= 400 ? (m_context.writeError(error.message), int(ExitHttpError))
                                           : m_context.reportError(error));
        });
        if (seconds > 0)
            QTimer::singleShot(qint64(seconds * 1000), this, [this] { m_context.finish(ExitSuccess); });
    }

private:
    void onEvent(const SseParser::Event &event)
    {
        const QJsonObject json = QJsonDocument::fromJson(event.data).object();
        if (event.name == "request") {
            m_recent.append(requestRecordFromJson(json));
            while (m_recent.size() > kRecent)
                m_recent.removeFirst();
            return;
        }
        if (event.name != "stats")
            return;
        const QString view = renderStats(StatsSnapshot::fromJson(json), m_recent, true);
        // A terminal gets the view redrawn in place; a pipe gets frames one after another.
        QByteArray frame;
        if (m_clearScreen)
            frame = "\x1b[H\x1b[2J";
        else if (m_frames > 0)
            frame = "\n";
        frame += view.toUtf8();
        m_context.writeOut(frame);
        if (++m_frames >= m_maxFrames && m_maxFrames > 0) {
            m_stream->close();
            m_context.finish(ExitSuccess);
        }
    }

    static constexpr int kRecent = 8;
    CommandContext &m_context;
    DaemonEventStream *m_stream = nullptr;
    QList<RequestRecord> m_recent;
    int m_frames = 0;
    int m_maxFrames = 0;
    bool m_clearScreen = false;
};

int runStats(CommandContext &context, const Command &command, const QStringList &arguments)
{
    QCommandLineParser parser;
    const QCommandLineOption watch({QStringLiteral("w"), QStringLiteral("watch")},
                                   QStringLiteral("Keep the view live, redrawn from /_mp/events (Ctrl+C ends it)."));
    const QCommandLineOption json(QStringLiteral("json"), QStringLiteral("Print the /_mp/stats JSON instead of the view."));
    const QCommandLineOption count({QStringLiteral("n"), QStringLiteral("count")},
                                   QStringLiteral("With --watch: stop after N frames."), QStringLiteral("N"));
    const QCommandLineOption duration(QStringLiteral("duration"),
                                      QStringLiteral("With --watch: stop after SECONDS."), QStringLiteral("SECONDS"));
    parser.addOptions({watch, json, count, duration});
    if (const int code = context.parse(parser, command, arguments); code != kRunning)
        return code;
    if (!parser.positionalArguments().isEmpty())
        return context.usageError(QStringLiteral("stats takes no arguments"), command.name);
    if (parser.isSet(json) && parser.isSet(watch))
        return context.usageError(QStringLiteral("--json and --watch do not go together"), command.name);

    if (parser.isSet(watch)) {
        int frames = 0;
        double seconds = 0;
        bool ok = true;
        if (parser.isSet(count)) {
            frames = parser.value(count).toInt(&ok);
            if (!ok || frames <= 0)
                return context.usageError(QStringLiteral("--count: %1 is not a positive number").arg(parser.value(count)),
                                          command.name);
        }
        if (parser.isSet(duration)) {
            seconds = parser.value(duration).toDouble(&ok);
            if (!ok || seconds <= 0)
                return context.usageError(QStringLiteral("--duration: %1 is not a number of seconds").arg(parser.value(duration)),
                                          command.name);
        }
        context.keep(new StatsWatch(context, frames, seconds));
        return kRunning;
    }
    if (parser.isSet(count) || parser.isSet(duration))
        return context.usageError(QStringLiteral("--count and --duration need --watch"), command.name);

    const bool raw = parser.isSet(json);
    getControl(context, QStringLiteral("/_mp/stats"), [&context, raw](const QByteArray &body) {
        QJsonParseError error;
        const QJsonDocument doc = QJsonDocument::fromJson(body, &error);
        if (!doc.isObject()) {
            context.writeError(QStringLiteral("the daemon's /_mp/stats is not JSON: %1").arg(error.errorString()));
            return int(ExitFailure);
        }
        if (raw)
            context.writeOut(doc.toJson(QJsonDocument::Indented));
        else
            context.writeOut(renderStats(StatsSnapshot::fromJson(doc.object())).toUtf8());
        return int(ExitSuccess);
    });
    return kRunning;
}

} // namespace

QList<Command> statusCommands()
{
    QList<Command> commands;
    commands.append({QStringLiteral("stats"), QStringLiteral("[--watch [--count N] [--duration SECONDS]] [--json]"),
                     QStringLiteral("The daemon's totals, cache, rate budget per domain and clients; --watch keeps it live."), {}});
    commands.append({QStringLiteral("health"), QString(),
                     QStringLiteral("The daemon's /_mp/health answer (exit 0 when it is up)."), {}});
    const Command stats = commands[0];
    const Command health = commands[1];
    commands[0].run = [stats](CommandContext &c, const QStringList &a) { return runStats(c, stats, a); };
    commands[1].run = [health](CommandContext &c, const QStringList &a) { return runHealth(c, health, a); };
    return commands;
}

} // namespace prawmp::cli
