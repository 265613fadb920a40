#pragma once
#include "prawmp/Response.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QString>

namespace prawmp {

// A JSON answer with Content-Type set.
PRAWMP_EXPORT Response jsonResponse(int status, const QJsonObject &object);
// The contract's error shape: {"error": "<code>", "message": "<text>"}.
PRAWMP_EXPORT Response jsonError(int status, const QString &code, const QString &message);
// The standard reason phrase of a status ("Not Found"), "Unknown" otherwise.
PRAWMP_EXPORT QByteArray reasonPhrase(int status);

} // namespace prawmp
