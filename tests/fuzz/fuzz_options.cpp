// libFuzzer target: the daemon's options, from a config file (INI, read
// through QSettings after our own line checks) and a command line.
//
// Input: INI text, then optionally a NUL byte and command-line arguments
// separated by newlines. The INI text is written to a file given with
// --config, as a user would.
//
// Properties checked:
//  - a parse that succeeds satisfies the access rule (a non-loopback
//    address has a token or --insecure), has both or neither TLS file,
//    and reload() of the same file gives the same options;
//  - secrets are never shown: describe() holds neither the auth token nor
//    the Redis password, and an error message never holds the token
//    given on the command line.
#include "FuzzSupport.h"

#include "DaemonOptions.h"

#include <QFile>
#include <QTemporaryDir>
#include <QUrl>

using namespace prawmp;

namespace {

QString configPath()
{
    static QTemporaryDir dir;
    static const QString path = dir.path() + QStringLiteral("/fuzz.ini");
    return path;
}

// True when `text` shows `secret` where the same text made without the
// secret does not (so that a token such as "localhost" is no false alarm).
bool reveals(const QString &text, const QString &withoutSecret, const QString &secret)
{
    return secret.size() >= 6 && text.contains(secret) && !withoutSecret.contains(secret);
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    fuzz::initApplication();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArray input(reinterpret_cast<const char *>(data), qsizetype(size));
    const qsizetype split = input.indexOf('\0');
    const QByteArray ini = split < 0 ? input : input.left(split);
    QStringList arguments{QStringLiteral("praw-multiprocess")};
    if (split >= 0) {
        for (const QByteArray &a : input.mid(split + 1).split('\n'))
            arguments.append(QString::fromUtf8(a));
    }
    // Half the inputs without a file, so the command line alone is explored too.
    const bool withFile = ini.size() > 0 && !(ini.size() == 1 && ini[0] == '-');
    if (withFile) {
        QFile file(configPath());
        if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate))
            return 0;
        file.write(ini);
        file.close();
        arguments.append(QStringLiteral("--config"));
        arguments.append(configPath());
    }

    QString cliToken;
    for (qsizetype i = 0; i + 1 < arguments.size(); ++i) {
        if (arguments[i] == QLatin1String("--auth-token"))
            cliToken = arguments[i + 1];
    }

    DaemonOptionsParser parser;
    const DaemonOptionsResult result = parser.parse(arguments);
    if (!result.ok()) {
        if (cliToken.size() >= 6) {
            // The same mistake with another token: the message must not differ by the token.
            QStringList other = arguments;
            for (QString &a : other) {
                if (a == cliToken)
                    a = QStringLiteral("Zq9Zq9Zq9Zq9");
            }
            DaemonOptionsParser otherParser;
            const QString otherError = otherParser.parse(other).error;
            PRAWMP_FUZZ_CHECK(!reveals(result.error, otherError, cliToken));
        }
        return 0;
    }
    if (result.action != DaemonAction::Run)
        return 0;

    const DaemonOptions &o = result.options;
    PRAWMP_FUZZ_CHECK(o.accessError().isEmpty());
    PRAWMP_FUZZ_CHECK(o.listensOnLoopbackOnly() || !o.authToken.isEmpty() || o.insecure);
    PRAWMP_FUZZ_CHECK(o.tlsCertificateFile.isEmpty() == o.tlsKeyFile.isEmpty());

    const QString described = o.describe();
    DaemonOptions withoutSecrets = o;
    withoutSecrets.authToken = o.authToken.isEmpty() ? QString() : QStringLiteral("T");
    withoutSecrets.redis = o.redis.isEmpty() ? QString() : QStringLiteral("redis://h");
    const QString describedWithout = withoutSecrets.describe();
    PRAWMP_FUZZ_CHECK(!reveals(described, describedWithout, o.authToken));
    const QString redisPassword = QUrl(o.redis).password();
    PRAWMP_FUZZ_CHECK(!reveals(described, describedWithout, redisPassword));

    // SIGHUP with an unchanged file gives the same options.
    const DaemonOptionsResult reloaded = parser.reload();
    PRAWMP_FUZZ_CHECK(reloaded.ok());
    PRAWMP_FUZZ_CHECK(reloaded.options == o);
    return 0;
}
