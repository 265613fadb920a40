#pragma once
#include <QHash>
#include <QString>

// The build tree a test runs from, for the suites that inspect the build
// itself (tst_packaging, tst_builddeps).
namespace prawmp::test {

// The build directory: the parent of the test executable's directory.
QString buildDirectory();

// CMakeCache.txt as NAME -> value (the type after the colon dropped).
QHash<QString, QString> readCMakeCache(const QString &path);

} // namespace prawmp::test
