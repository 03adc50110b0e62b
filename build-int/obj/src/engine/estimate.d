build-int/obj/src/engine/estimate.o: src/engine/estimate.c \
 include/orfeas.h
include/orfeas.h:
