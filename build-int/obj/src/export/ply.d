build-int/obj/src/export/ply.o: src/export/ply.c src/export/export.h \
 src/core/buf.h include/orfeas.h
src/export/export.h:
src/core/buf.h:
include/orfeas.h:
