#include "ClientCommand.h"

#include <QCoreApplication>
#include <QHostAddress>
#include <QTimer>

#include <chrono>
#include <cstdio>

namespace prawmp::cli {

namespace {

const QString kProgram = QStringLiteral("praw-multiprocess-client");

QString commandListText(const QList<Command> &commands)
{
    QString text = QStringLiteral("Commands:\n");
    for (const Command &c : commands)
        text += QStringLiteral("  %1\n      %2\n").arg((c.name + u' ' + c.synopsis).trimmed(), c.summary);
    text += QStringLiteral("\nRun '%1 COMMAND --help' for a command's options.\n"
                           "Exit status: 0 success, 1 HTTP status >= 400 or a request the daemon reported failed,\n"
                           "2 bad arguments, 3 daemon unreachable, 4 other errors.\n")
                .arg(kProgram);
    return text;
}

} // namespace

bool parseServerAddress(const QString &text, ServerAddress *address, QString *error)
{
    QString rest = text.trimmed();
    if (rest.startsWith(QLatin1String("http://"), Qt::CaseInsensitive))
        rest = rest.mid(7);
    while (rest.endsWith(u'/'))
        rest.chop(1);
    ServerAddress result;
    QString portText;
    if (rest.startsWith(u'[')) { // [::1]:10101
        const qsizetype close = rest.indexOf(u']');
        if (close < 0) {
            *error = QStringLiteral("missing ']' in %1").arg(text);
            return false;
        }
        result.host = rest.mid(1, close - 1);
        const QString after = rest.mid(close + 1);
        if (!after.isEmpty()) {
            if (!after.startsWith(u':')) {
                *error = QStringLiteral("expected ':PORT' after ']' in %1").arg(text);
                return false;
            }
            portText = after.mid(1);
        }
    } else if (rest.count(u':') > 1) { // a bare IPv6 address
        result.host = rest;
    } else {
        const qsizetype colon = rest.indexOf(u':');
        result.host = colon < 0 ? rest : rest.left(colon);
        if (colon >= 0)
            portText = rest.mid(colon + 1);
    }
    if (result.host.isEmpty())
        result.host = QStringLiteral("localhost");
    if (result.host.contains(u'/') || result.host.contains(u' ')) {
        *error = QStringLiteral("%1 is not HOST:PORT").arg(text);
        return false;
    }
    if (!portText.isEmpty() || rest.endsWith(u':')) {
        bool ok = false;
        const uint port = portText.toUInt(&ok);
        if (!ok || port == 0 || port > 65535) {
            *error = QStringLiteral("%1 is not a port number (1-65535)").arg(portText);
            return false;
        }
        result.port = quint16(port);
    }
    *address = result;
    return true;
}

GlobalOptions::GlobalOptions()
    : m_server({QStringLiteral("s"), QStringLiteral("server")},
               QStringLiteral("The daemon to talk to (default localhost:10101, or $PRAWMP_SERVER)."),
               QStringLiteral("HOST:PORT"))
    , m_token({QStringLiteral("t"), QStringLiteral("token")},
              QStringLiteral("Proxy token of a daemon started with --auth-token (or $PRAWMP_TOKEN)."),
              QStringLiteral("TOKEN"))
    , m_noRetry(QStringLiteral("no-retry"),
                QStringLiteral("Fail at once (exit 3) when the daemon cannot be reached, instead of retrying forever."))
    , m_retryDelay(QStringLiteral("retry-delay"),
                   QStringLiteral("First wait before connecting again; doubles up to 64 (default 2)."),
                   QStringLiteral("SECONDS"))
{
    const QString fromEnvironment = qEnvironmentVariable("PRAWMP_SERVER");
    QString ignored;
    if (!fromEnvironment.isEmpty())
        parseServerAddress(fromEnvironment, &server, &ignored);
    token = qEnvironmentVariable("PRAWMP_TOKEN");
}

void GlobalOptions::addTo(QCommandLineParser &parser) const
{
    parser.addOption(m_server);
    parser.addOption(m_token);
    parser.addOption(m_noRetry);
    parser.addOption(m_retryDelay);
}

bool GlobalOptions::read(const QCommandLineParser &parser, QString *error)
{
    if (parser.isSet(m_server) && !parseServerAddress(parser.value(m_server), &server, error)) {
        *error = QStringLiteral("--server: ") + *error;
        return false;
    }
    if (parser.isSet(m_token))
        token = parser.value(m_token);
    if (parser.isSet(m_noRetry))
        noRetry = true;
    if (parser.isSet(m_retryDelay)) {
        bool ok = false;
        const double seconds = parser.value(m_retryDelay).toDouble(&ok);
        if (!ok || seconds <= 0 || seconds > 3600) {
            *error = QStringLiteral("--retry-delay: %1 is not a number of seconds (0-3600)").arg(parser.value(m_retryDelay));
            return false;
        }
        retryDelaySeconds = seconds;
    }
    return true;
}

CommandContext::CommandContext(const GlobalOptions &globals) : options(globals) {}

CommandContext::~CommandContext() = default;

MultiprocessHandler &CommandContext::handler()
{
    if (!m_handler) {
        m_handler = std::make_unique<MultiprocessHandler>(options.server.host, options.server.port);
        m_handler->setProxyToken(options.token);
        m_handler->setInitialRetryDelay(std::chrono::milliseconds(qint64(options.retryDelaySeconds * 1000)));
        if (options.noRetry)
            m_handler->setMaxConnectAttempts(1);
    }
    return *m_handler;
}

int CommandContext::parse(QCommandLineParser &parser, const Command &command, const QStringList &arguments)
{
    const QCommandLineOption help({QStringLiteral("h"), QStringLiteral("help")},
                                  QStringLiteral("Show this command's help."));
    parser.addOption(help);
    options.addTo(parser);
    QStringList args = arguments;
    if (args.isEmpty())
        args.append(command.name);
    args[0] = kProgram + u' ' + command.name;
    if (!parser.parse(args))
        return usageError(parser.errorText(), command.name);
    if (parser.isSet(help)) {
        QString text = parser.helpText();
        // Our own usage line: Qt's names neither the command nor its arguments.
        const qsizetype firstLineEnd = text.indexOf(u'\n');
        text = QStringLiteral("Usage: %1 [options] %2\n\n%3\n").arg(kProgram, (command.name + u' ' + command.synopsis).trimmed(), command.summary)
               + text.mid(firstLineEnd + 1);
        writeOut(text.toUtf8());
        return ExitSuccess;
    }
    QString error;
    if (!options.read(parser, &error))
        return usageError(error, command.name);
    return kRunning;
}

int CommandContext::usageError(const QString &message, const QString &command)
{
    writeError(message);
    const QString hint = command.isEmpty() ? kProgram + QStringLiteral(" --help")
                                           : QStringLiteral("%1 %2 --help").arg(kProgram, command);
    std::fprintf(stderr, "Try '%s'.\n", qPrintable(hint));
    return ExitUsage;
}

void CommandContext::writeOut(const QByteArray &bytes)
{
    std::fwrite(bytes.constData(), 1, size_t(bytes.size()), stdout);
    std::fflush(stdout);
}

void CommandContext::writeError(const QString &message)
{
    std::fprintf(stderr, "%s: %s\n", qPrintable(kProgram), message.toLocal8Bit().constData());
    std::fflush(stderr);
}

int CommandContext::reportError(const Error &error)
{
    switch (error.kind) {
    case Error::Kind::DaemonUnavailable:
        writeError(error.message);
        return ExitUnavailable;
    case Error::Kind::None:
        return ExitSuccess;
    case Error::Kind::Canceled:
        writeError(error.message);
        return ExitFailure;
    default:
        // The daemon answered for a request that got no upstream answer.
        writeError(QStringLiteral("HTTP %1 (%2): %3").arg(error.httpStatus()).arg(error.code(), error.message));
        return ExitHttpError;
    }
}

int CommandContext::reportException(const ClientException &exception)
{
    if (exception.error().kind == Error::Kind::DaemonUnavailable)
        return reportError(exception.error());
    writeError(exception.error().message);
    return exception.httpStatus() >= 400 ? ExitHttpError : ExitFailure;
}

void CommandContext::finish(int code)
{
    if (m_finished)
        return;
    m_finished = true;
    // Queued: a command may finish from inside a handler's signal.
    QMetaObject::invokeMethod(QCoreApplication::instance(), [code] { QCoreApplication::exit(code); },
                              Qt::QueuedConnection);
}

int runClient(const QStringList &arguments, const QList<Command> &commands)
{
    GlobalOptions globals;
    QCommandLineParser parser;
    parser.setApplicationDescription(
        QStringLiteral("Talks to a praw-multiprocess daemon: requests through it, cache control, live statistics."));
    parser.setOptionsAfterPositionalArgumentsMode(QCommandLineParser::ParseAsPositionalArguments);
    const QCommandLineOption help = parser.addHelpOption();
    const QCommandLineOption version = parser.addVersionOption();
    globals.addTo(parser);
    parser.addPositionalArgument(QStringLiteral("command"), QStringLiteral("What to do (see below)."),
                                 QStringLiteral("COMMAND [ARGS...]"));

    CommandContext context(globals);
    if (!parser.parse(arguments))
        return context.usageError(parser.errorText());
    if (parser.isSet(help)) {
        context.writeOut((parser.helpText() + u'\n' + commandListText(commands)).toUtf8());
        return ExitSuccess;
    }
    if (parser.isSet(version)) {
        context.writeOut(QStringLiteral("%1 %2\n").arg(kProgram, QStringLiteral(PRAWMP_VERSION)).toUtf8());
        return ExitSuccess;
    }
    QString error;
    if (!globals.read(parser, &error))
        return context.usageError(error);
    context.options = globals;

    const QStringList rest = parser.positionalArguments();
    if (rest.isEmpty())
        return context.usageError(QStringLiteral("no command given"));
    QString name = rest.first();
    if (name == u"help") { // "help get" is "get --help"
        if (rest.size() < 2) {
            context.writeOut((parser.helpText() + u'\n' + commandListText(commands)).toUtf8());
            return ExitSuccess;
        }
        name = rest.at(1);
        const auto it = std::find_if(commands.begin(), commands.end(), [&](const Command &c) { return c.name == name; });
        if (it == commands.end())
            return context.usageError(QStringLiteral("unknown command '%1'").arg(name));
        return it->run(context, {name, QStringLiteral("--help")});
    }
    const auto it = std::find_if(commands.begin(), commands.end(), [&](const Command &c) { return c.name == name; });
    if (it == commands.end())
        return context.usageError(QStringLiteral("unknown command '%1'").arg(name));

    const int immediate = it->run(context, rest);
    if (immediate != kRunning)
        return immediate;
    return QCoreApplication::exec();
}

} // namespace prawmp::cli
