#pragma once

#include <QByteArrayView>

namespace prawmp {

// Compares secrets (the proxy token) in time that depends only on their
// length, so that timing does not reveal how long a matching prefix is.
// Used by the main thread and by the serving threads alike.
inline bool constantTimeEquals(QByteArrayView a, QByteArrayView b)
{
    if (a.size() != b.size())
        return false;
    unsigned char diff = 0;
    for (qsizetype i = 0; i < a.size(); ++i)
        diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

} // namespace prawmp
