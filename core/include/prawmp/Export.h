#pragma once
#include <QtCore/qglobal.h>

#if defined(PRAWMP_CORE_LIBRARY)
#  define PRAWMP_EXPORT Q_DECL_EXPORT
#else
#  define PRAWMP_EXPORT Q_DECL_IMPORT
#endif
