build-int/obj/src/export/obj.o: src/export/obj.c src/export/export.h \
 src/core/buf.h include/orfeas.h
src/export/export.h:
src/core/buf.h:
include/orfeas.h:
