// evict and clear: the daemon's cache control endpoints.
#include "ClientCommand.h"

#include <QFutureWatcher>
#include <QJsonDocument>
#include <QJsonObject>

namespace prawmp::cli {

namespace {

// Prints {"KEY": N} when the future resolves; finishes the command.
void printCount(CommandContext &context, const QFuture<int> &future, const QString &key)
{
    auto *watcher = new QFutureWatcher<int>;
    QObject::connect(watcher, &QFutureWatcher<int>::finished, watcher, [&context, watcher, key] {
        watcher->deleteLater();
        try {
            const int count = watcher->future().result();
            const QJsonObject json{{key, count}};
            context.writeOut(QJsonDocument(json).toJson(QJsonDocument::Compact) + '\n');
            context.finish(ExitSuccess);
        } catch (const ClientException &exception) {
            context.finish(context.reportException(exception));
        } catch (const QException &) {
            context.writeError(QStringLiteral("the request was canceled"));
            context.finish(ExitFailure);
        }
    });
    watcher->setFuture(future);
}

int runEvict(CommandContext &context, const Command &command, const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.addPositionalArgument(QStringLiteral("URL"), QStringLiteral("Absolute URLs or paths whose cached answers to drop."),
                                 QStringLiteral("URL..."));
    if (const int code = context.parse(parser, command, arguments); code != kRunning)
        return code;
    const QStringList urls = parser.positionalArguments();
    if (urls.isEmpty())
        return context.usageError(QStringLiteral("evict: give at least one URL"), command.name);
    printCount(context, context.handler().evict(urls), QStringLiteral("evicted"));
    return kRunning;
}

int runClear(CommandContext &context, const Command &command, const QStringList &arguments)
{
    QCommandLineParser parser;
    if (const int code = context.parse(parser, command, arguments); code != kRunning)
        return code;
    if (!parser.positionalArguments().isEmpty())
        return context.usageError(QStringLiteral("clear takes no arguments"), command.name);
    printCount(context, context.handler().clear(), QStringLiteral("cleared"));
    return kRunning;
}

} // namespace

QList<Command> cacheCommands()
{
    QList<Command> commands;
    commands.append({QStringLiteral("evict"), QStringLiteral("URL..."),
                     QStringLiteral("Drop the cached answers of these URLs; prints {\"evicted\": N}."), {}});
    commands.append({QStringLiteral("clear"), QString(),
                     QStringLiteral("Drop the daemon's whole cache; prints {\"cleared\": N}."), {}});
    const Command evict = commands[0];
    const Command clear = commands[1];
    commands[0].run = [evict](CommandContext &c, const QStringList &a) { return runEvict(c, evict, a); };
    commands[1].run = [clear](CommandContext &c, const QStringList &a) { return runClear(c, clear, a); };
    return commands;
}

} // namespace prawmp::cli
