#pragma once
#include "prawmp/MultiprocessHandler.h"

#include <QCommandLineOption>
#include <QCommandLineParser>
#include <QList>
#include <QString>
#include <QStringList>

#include <functional>
#include <memory>

// The command-line client's plumbing: exit codes, the options every
// command accepts, and what a command gets to work with.
namespace prawmp::cli {

// Documented in README.md ("Exit status"); scripts rely on them.
enum ExitCode : int {
    ExitSuccess = 0,
    ExitHttpError = 1,   // the daemon answered with a status >= 400 (or reported a failed request)
    ExitUsage = 2,       // bad arguments
    ExitUnavailable = 3, // the daemon could not be reached, or kept dropping the connection
    ExitFailure = 4,     // anything else: unreadable file, malformed answer
};

// -1: the command goes on asynchronously and calls CommandContext::finish().
constexpr int kRunning = -1;

struct ServerAddress
{
    QString host = QStringLiteral("localhost");
    quint16 port = MultiprocessHandler::kDefaultPort;
};

// "HOST:PORT", "HOST", ":PORT", "[::1]:PORT", with an optional "http://".
bool parseServerAddress(const QString &text, ServerAddress *address, QString *error);

// Options accepted before the command name and after it alike.
class GlobalOptions
{
public:
    GlobalOptions();

    void addTo(QCommandLineParser &parser) const;
    // Takes what the parser saw; values not given keep their current value.
    bool read(const QCommandLineParser &parser, QString *error);

    ServerAddress server;
    QString token;
    bool noRetry = false;
    double retryDelaySeconds = 2.0;

private:
    QCommandLineOption m_server;
    QCommandLineOption m_token;
    QCommandLineOption m_noRetry;
    QCommandLineOption m_retryDelay;
};

class CommandContext;

struct Command
{
    QString name;
    QString synopsis; // after the command name: "URL [-H 'Name: value']..."
    QString summary;
    // Parses the command's own arguments (arguments.first() is the command
    // name) and starts the work: returns an exit code when done at once,
    // kRunning when it will call CommandContext::finish().
    std::function<int(CommandContext &context, const QStringList &arguments)> run;
};

// What a running command works with: the options, the handler, output.
class CommandContext
{
public:
    explicit CommandContext(const GlobalOptions &globals);
    ~CommandContext();

    GlobalOptions options;

    // Created on first use from the options (server, token, retry).
    MultiprocessHandler &handler();

    // Standard command-line parsing for `command`: its own options (added
    // by the caller beforehand), the global ones, --help. Returns kRunning
    // to go on, or the exit code to return (help shown, bad arguments).
    int parse(QCommandLineParser &parser, const Command &command, const QStringList &arguments);
    // Prints "praw-multiprocess-client: MESSAGE" and the --help hint; ExitUsage.
    int usageError(const QString &message, const QString &command = {});

    void writeOut(const QByteArray &bytes);
    void writeError(const QString &message); // prefixed with the program name
    // The exit code of an Error from the handler.
    int reportError(const Error &error);
    // The exit code of a failed future (ClientException) from the handler.
    int reportException(const ClientException &exception);

    // Ends an asynchronous command: the event loop stops with this code.
    void finish(int code);
    // Keeps the object doing an asynchronous command (`stats --watch`) until
    // the context goes, and deletes it before the handler it uses.
    void keep(QObject *work) { m_work.reset(work); }

private:
    std::unique_ptr<MultiprocessHandler> m_handler;
    std::unique_ptr<QObject> m_work; // after m_handler: destroyed first
    bool m_finished = false;
};

// Parses the global options, picks the command and runs it to its end.
int runClient(const QStringList &arguments, const QList<Command> &commands);

// The command groups (one file each).
QList<Command> requestCommands(); // get, post
QList<Command> cacheCommands();   // evict, clear
QList<Command> statusCommands();  // stats, health

} // namespace prawmp::cli
