build-int/obj/src/export/stl.o: src/export/stl.c src/export/export.h \
 src/core/buf.h include/orfeas.h
src/export/export.h:
src/core/buf.h:
include/orfeas.h:
