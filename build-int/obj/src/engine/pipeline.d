build-int/obj/src/engine/pipeline.o: src/engine/pipeline.c \
 src/core/alloc.h src/image/image.h include/orfeas.h src/field/inflate.h \
 src/image/mask.h src/image/image.h src/mesh/mesh.h src/core/parallel.h \
 src/mesh/simplify.h src/mesh/smooth.h
src/core/alloc.h:
src/image/image.h:
include/orfeas.h:
src/field/inflate.h:
src/image/mask.h:
src/image/image.h:
src/mesh/mesh.h:
src/core/parallel.h:
src/mesh/simplify.h:
src/mesh/smooth.h:
