#include "BuildTree.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QRegularExpression>

namespace prawmp::test {

QString buildDirectory()
{
    QDir dir(QCoreApplication::applicationDirPath());
    dir.cdUp();
    return QFileInfo(dir.absolutePath()).canonicalFilePath();
}

QHash<QString, QString> readCMakeCache(const QString &path)
{
    QHash<QString, QString> cache;
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly | QIODevice::Text))
        return cache;
    static const QRegularExpression line(QStringLiteral("^([A-Za-z0-9_.+-]+):[A-Z]+=(.*)$"));
    for (const QString &l : QString::fromUtf8(file.readAll()).split(u'\n')) {
        const QRegularExpressionMatch m = line.match(l);
        if (m.hasMatch())
            cache.insert(m.captured(1), m.captured(2));
    }
    return cache;
}

} // namespace prawmp::test
