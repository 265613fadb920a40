// praw-multiprocess-client: wires the command groups to the command line.
#include "ClientCommand.h"

#include <QCoreApplication>

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("praw-multiprocess-client"));
    QCoreApplication::setApplicationVersion(QStringLiteral(PRAWMP_VERSION));
    qSetMessagePattern(QStringLiteral("%{if-category}%{category}: %{endif}%{message}"));

    using namespace prawmp::cli;
    const QList<Command> commands = requestCommands() + cacheCommands() + statusCommands();
    return runClient(QCoreApplication::arguments(), commands);
}
