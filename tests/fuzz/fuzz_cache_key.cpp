// libFuzzer target: cache-key normalization (CacheKey) of hostile URLs and
// credentials.
//
// Input: "URL\nAuthorization\nCookie\nMETHOD" (missing parts are empty).
// The URL is parsed both as the daemon parses a request-target (strict,
// from the encoded bytes) and tolerantly, as a user-given evict URL is.
//
// Properties checked:
//  - a normalized URL never holds a space or a line break (CacheKey::toString
//    relies on it to keep method, URL and credentials apart);
//  - normalizing is stable: the normalized form, parsed again, normalizes
//    to itself (an evict of the URL shown in the stats hits the entry);
//  - the order of query parameters with different names does not matter;
//  - different credentials never give the same key, and no credentials
//    give no credential hash.
#include "FuzzSupport.h"

#include "prawmp/CacheKey.h"
#include "prawmp/Request.h"

#include <QUrlQuery>

using namespace prawmp;

namespace {

void checkNormalized(const QUrl &url)
{
    const QString normalized = CacheKey::normalizeUrl(url);
    PRAWMP_FUZZ_CHECK(!normalized.contains(QLatin1Char(' ')));
    PRAWMP_FUZZ_CHECK(!normalized.contains(QLatin1Char('\n')));
    PRAWMP_FUZZ_CHECK(!normalized.contains(QLatin1Char('\r')));
    if (!url.isValid() || url.host().isEmpty())
        return;
    const QUrl again = QUrl::fromEncoded(normalized.toUtf8(), QUrl::StrictMode);
    if (again.isValid())
        PRAWMP_FUZZ_CHECK(CacheKey::normalizeUrl(again) == normalized);
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
    const QList<QByteArray> parts = input.split('\n');
    const QByteArray target = parts.value(0);

    const QUrl strict = QUrl::fromEncoded(target, QUrl::StrictMode);
    const QUrl tolerant(QString::fromUtf8(target), QUrl::TolerantMode);
    checkNormalized(strict);
    checkNormalized(tolerant);

    // Reordering differently named parameters keeps the key.
    if (strict.isValid() && strict.hasQuery()) {
        QStringList items = strict.query(QUrl::FullyEncoded).split(QLatin1Char('&'), Qt::SkipEmptyParts);
        QStringList names;
        for (const QString &item : items)
            names.append(item.section(QLatin1Char('='), 0, 0));
        names.removeDuplicates();
        if (names.size() == items.size() && items.size() > 1) {
            std::reverse(items.begin(), items.end());
            QUrl reordered = strict;
            reordered.setQuery(items.join(QLatin1Char('&')), QUrl::StrictMode);
            if (reordered.isValid())
                PRAWMP_FUZZ_CHECK(CacheKey::normalizeUrl(reordered) == CacheKey::normalizeUrl(strict));
        }
    }

    Request request;
    request.method = parts.value(3, "GET");
    request.url = strict;
    const QByteArray authorization = parts.value(1);
    const QByteArray cookie = parts.value(2);
    if (!authorization.isEmpty())
        request.headers.add("Authorization", authorization);
    if (!cookie.isEmpty())
        request.headers.add("Cookie", cookie);
    const CacheKey key = CacheKey::forRequest(request);
    PRAWMP_FUZZ_CHECK(key.credentials().isEmpty() == (authorization.isEmpty() && cookie.isEmpty()));
    (void)qHash(key);
    (void)key.toString();

    // Another user (credentials changed) never shares the entry.
    if (!authorization.isEmpty() || !cookie.isEmpty()) {
        Request other = request;
        other.headers = HttpHeaders();
        other.headers.add("Authorization", authorization + 'x');
        if (!cookie.isEmpty())
            other.headers.add("Cookie", cookie);
        PRAWMP_FUZZ_CHECK(!(CacheKey::forRequest(other) == key));
        // Authorization "x" and Cookie "x" are different users too.
        if (cookie.isEmpty()) {
            Request swapped = request;
            swapped.headers = HttpHeaders();
            swapped.headers.add("Cookie", authorization);
            PRAWMP_FUZZ_CHECK(!(CacheKey::forRequest(swapped) == key));
        }
    }
    return 0;
}
