#include "prawmp/Request.h"

namespace prawmp {

bool Request::isCacheableMethod() const
{
    return method == "GET" || method == "HEAD";
}

bool Request::isWriteMethod() const
{
    return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE";
}

static bool hasDirective(const QList<QByteArray> &fieldValues, const QByteArray &directive)
{
    for (const QByteArray &value : fieldValues) {
        for (const QByteArray &token : value.split(',')) {
            // "no-cache" may carry a field list (no-cache="Set-Cookie"); the
            // directive itself is what asks for a fresh answer.
            const QByteArray name = token.trimmed().split('=').first().trimmed();
            if (name.compare(directive, Qt::CaseInsensitive) == 0)
                return true;
        }
    }
    return false;
}

bool Request::wantsFreshAnswer() const
{
    // Pragma: no-cache is the HTTP/1.0 spelling some clients still send.
    return hasDirective(headers.values("Cache-Control"), "no-cache")
        || hasDirective(headers.values("Pragma"), "no-cache");
}

bool Request::onlyIfCached() const
{
    return hasDirective(headers.values("Cache-Control"), "only-if-cached");
}

} // namespace prawmp
