#pragma once
#include "prawmp/HttpHeaders.h"

#include <QByteArray>

namespace prawmp {

struct PRAWMP_EXPORT Response
{
    int status = 0;
    QByteArray reason;
    HttpHeaders headers;
    QByteArray body;

    qsizetype byteSize() const { return body.size() + headers.byteSize() + reason.size(); }
    bool operator==(const Response &other) const = default;
};

} // namespace prawmp
