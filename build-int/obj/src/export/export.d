build-int/obj/src/export/export.o: src/export/export.c src/core/alloc.h \
 src/export/export.h src/core/buf.h include/orfeas.h
src/core/alloc.h:
src/export/export.h:
src/core/buf.h:
include/orfeas.h:
