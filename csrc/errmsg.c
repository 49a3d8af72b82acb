/* lunasock: errno's message, compiled into lunasock.core and
   lunasock.tls alike (each module keeps its copy hidden). See LICENSE. */
#include <string.h>

#include "lunasock.h"

/* strerror_r comes in two flavours: GNU's returns the message, XSI's
   fills the buffer. Thread-safe either way (the resolver's threads). */
const char *lsk_strerror(int err, char *buf, size_t size) {
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
  return strerror_r(err, buf, size);
#else
  if (strerror_r(err, buf, size) != 0) buf[0] = '\0';
  return buf;
#endif
}
