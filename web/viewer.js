// viewer.js - the 3D view (three.js): each stage's mesh is loaded with
// GLTFLoader from its result URL the moment the stage arrives (a repaired
// mesh from the GLB bytes the page holds), shown on a
// floor grid measured in millimetres, lit by a sky light and two
// directional lights, turned with OrbitControls (mouse, touch, and the
// Shift + arrow keys to turn and arrow keys to move while the canvas has focus).
//
// The GLB files ORFEAS writes are in metres with Y up (src/export/glb.c),
// which is three.js's own convention, so the scene is in metres and the
// grid's squares are 10 mm (50 mm for models over 30 cm).  The model is
// stood on the grid, centred.  Rendering happens on demand (a change of
// view, a new mesh, a resize), not in a loop, so an idle page costs nothing.
// preserveDrawingBuffer keeps the last frame readable (screenshots, tests).
//
// The studio loads meshopt-compressed GLBs (EXT_meshopt_compression and
// KHR_mesh_quantization, docs/API.md "Textures and compression"), decoded
// by three's own MeshoptDecoder, and reads Draco ones
// (KHR_draco_mesh_compression) with its DRACOLoader; a textured model shows its texture as
// it is (no clay tint).
//
// The backlit view shows a lithophane as it is seen with a light behind
// it: every point of the plate lets through T(t) = exp(-k t) of the light,
// t its thickness in millimetres and k = ln 2 per mm - the Beer-Lambert law
// the engine makes the plate's thickness by (src/modes/lithophane.h,
// ORF_LITHO_K: T(t) = T(max) + Y (T(min) - T(max)) for the picture's
// relative luminance Y) - so the photograph appears as on the print.  The
// plate lies flat with its back on the grid (glTF's Y up), so a point's
// thickness is its height; the brightest part (the thinnest, min_mm) is
// shown at the light's full brightness, T(t) / T(min_mm), in a dark room,
// seen straight from the front.

import * as THREE from 'three';
import { GLTFLoader } from 'three/addons/loaders/GLTFLoader.js';
import { OrbitControls } from 'three/addons/controls/OrbitControls.js';
import { MeshoptDecoder } from 'three/addons/libs/meshopt_decoder.module.js';
import { DRACOLoader } from 'three/addons/loaders/DRACOLoader.js';

const BACKGROUND = 0xe9edf2;
const CLAY = 0xd8c6ae;
const MIN_DWELL_MS = 250;
const BACKLIT_BACKGROUND = 0x15171a;
const BACKLIT_LIGHT = 0xfff6e8; // a warm white lamp
export const LITHO_K = Math.LN2; // per mm: src/modes/lithophane.h, ORF_LITHO_K

// Light through the plate: T(t) / T(minMm) of the lamp, t the height (mm)
// of the point above the plate's back.
function backlitMaterial(minMm) {
  return new THREE.ShaderMaterial({
    uniforms: {
      k: { value: LITHO_K },
      minMm: { value: minMm },
      lamp: { value: new THREE.Color(BACKLIT_LIGHT) },
    },
    vertexShader: `
      varying float vThickness;
      void main() {
        vec4 world = modelMatrix * vec4(position, 1.0);
        vThickness = world.y * 1000.0;
        gl_Position = projectionMatrix * viewMatrix * world;
      }`,
    fragmentShader: `
      uniform float k;
      uniform float minMm;
      uniform vec3 lamp;
      varying float vThickness;
      void main() {
        float transmitted = exp(-k * max(vThickness - minMm, 0.0));
        gl_FragColor = vec4(lamp * transmitted, 1.0);
        #include <colorspace_fragment>
      }`,
  });
}

export function createViewer(container, { onGrid } = {}) {
  const renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
  renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
  const canvas = renderer.domElement;
  canvas.tabIndex = 0;
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', '3D view of the model: drag, or Shift and the arrow keys, to turn it; the arrow keys alone move it');
  container.prepend(canvas);

  const scene = new THREE.Scene();
  scene.background = new THREE.Color(BACKGROUND);
  const camera = new THREE.PerspectiveCamera(35, 1, 0.001, 100);
  camera.position.set(0.15, 0.12, 0.22);
  scene.add(new THREE.HemisphereLight(0xffffff, 0x8d8778, 1.6));
  const key = new THREE.DirectionalLight(0xffffff, 2.0);
  key.position.set(1, 2, 1.5);
  const rim = new THREE.DirectionalLight(0xdde6ff, 0.8);
  rim.position.set(-1.5, 0.8, -1);
  scene.add(key, rim);

  const controls = new OrbitControls(camera, canvas);
  controls.listenToKeyEvents(canvas);
  controls.keyPanSpeed = 20;

  let grid = null;
  let model = null;
  let wireframe = false;
  let fitted = false;
  let backlit = null; // { minMm } while the backlit view is on
  let generation = 0; // bumped by reset(): meshes of an older generation are dropped
  let queue = Promise.resolve(); // the displays, one after the other
  const loader = new GLTFLoader();
  loader.setMeshoptDecoder(MeshoptDecoder);
  // compress=draco files: the decoder (wasm) from the pinned three package,
  // copied beside the vendor modules by web/build.mjs
  loader.setDRACOLoader(new DRACOLoader().setDecoderPath(new URL('three/addons/libs/draco/gltf/', import.meta.url).href));

  const render = () => renderer.render(scene, camera);
  controls.addEventListener('change', render);

  const resize = () => {
    const w = Math.max(1, container.clientWidth);
    const h = Math.max(1, container.clientHeight);
    renderer.setSize(w, h, false);
    camera.aspect = w / h;
    camera.updateProjectionMatrix();
    render();
  };
  new ResizeObserver(resize).observe(container);

  function setGrid(extentMm) {
    const cell = extentMm > 300 ? 50 : 10;
    const cells = Math.max(4, Math.ceil((extentMm * 1.6) / cell / 2) * 2);
    if (grid) {
      scene.remove(grid);
      grid.geometry.dispose();
      grid.material.dispose();
    }
    grid = new THREE.GridHelper((cells * cell) / 1000, cells, 0x7b8794, 0xc3cad3);
    grid.visible = !backlit; // the backlit view is a dark room
    scene.add(grid);
    if (onGrid) onGrid(cell, cells * cell);
  }

  function applyWireframe(obj) {
    obj.traverse((o) => {
      if (o.isMesh) for (const m of [].concat(o.material)) m.wireframe = wireframe;
    });
  }

  function prepare(obj) {
    obj.traverse((o) => {
      if (!o.isMesh) return;
      if (!o.geometry.attributes.normal) o.geometry.computeVertexNormals();
      for (const m of [].concat(o.material)) {
        if (!o.geometry.attributes.color && !m.map) m.color = new THREE.Color(CLAY);
        m.side = THREE.DoubleSide;
      }
      o.userData.material = o.material; // its own, while the backlit view borrows the mesh
    });
    const box = new THREE.Box3().setFromObject(obj);
    const centre = box.getCenter(new THREE.Vector3());
    obj.position.set(-centre.x, -box.min.y, -centre.z);
    return box.getSize(new THREE.Vector3());
  }

  function fit(size) {
    const radius = Math.max(size.length() / 2, 0.005);
    const dist = radius / Math.sin(THREE.MathUtils.degToRad(camera.fov / 2));
    const dir = new THREE.Vector3(0.55, 0.45, 0.85).normalize();
    controls.target.set(0, size.y / 2, 0);
    camera.position.copy(dir.multiplyScalar(dist * 1.05)).add(controls.target);
    camera.near = dist / 100;
    camera.far = dist * 100;
    camera.updateProjectionMatrix();
    controls.update();
  }

  // The backlit view's material on every mesh of obj (or each its own).
  function applyBacklit(obj) {
    obj.traverse((o) => {
      if (!o.isMesh) return;
      if (o.material !== o.userData.material) o.material.dispose();
      o.material = backlit ? backlitMaterial(backlit.minMm) : o.userData.material;
      for (const m of [].concat(o.material)) m.wireframe = wireframe;
    });
    scene.background = new THREE.Color(backlit ? BACKLIT_BACKGROUND : BACKGROUND);
    if (grid) grid.visible = !backlit;
  }

  // Straight at the plate's front (from above: it lies on the grid) and
  // filling the view, the picture upright: its top is towards -Z, which is
  // the screen's up for a camera a hair (1 mrad) towards +Z from straight
  // above (straight above, OrbitControls' up would be undefined).
  function faceFront(size) {
    const half = Math.max(size.x / camera.aspect, size.z) / 2;
    const dist = (half * 1.08) / Math.tan(THREE.MathUtils.degToRad(camera.fov / 2));
    controls.target.set(0, size.y, 0);
    camera.position.set(0, size.y + dist, dist * 1e-3);
    camera.near = dist / 100;
    camera.far = dist * 100;
    camera.updateProjectionMatrix();
    controls.update();
  }

  function modelSize() {
    return new THREE.Box3().setFromObject(model).getSize(new THREE.Vector3());
  }

  // Whether obj shows a texture (the viewport's data-textured).
  function textured(obj) {
    let any = false;
    obj.traverse((o) => {
      if (o.isMesh && [].concat(o.userData.material || o.material).some((m) => m.map)) any = true;
    });
    return any;
  }

  function display(obj) {
    const size = prepare(obj);
    applyWireframe(obj);
    applyBacklit(obj);
    container.dataset.textured = String(textured(obj));
    if (model) {
      scene.remove(model);
      dispose(model);
    }
    model = obj;
    scene.add(model);
    setGrid(Math.max(size.x, size.z) * 1000);
    if (!fitted) {
      if (backlit) faceFront(size);
      else fit(size);
      fitted = true;
    }
    render();
  }

  function dispose(obj) {
    obj.traverse((o) => {
      if (!o.isMesh) return;
      o.geometry.dispose();
      for (const m of new Set([].concat(o.material, o.userData.material || []))) {
        m.map?.dispose();
        m.dispose();
      }
    });
  }

  resize();

  return {
    canvas,
    // A new generation: the next mesh shown re-fits the camera.
    reset() {
      fitted = false;
      generation++;
    },
    // Loads url (GLB) at once and shows it after the stages asked for
    // before it, each of those kept on screen at least MIN_DWELL_MS, so
    // every stage is seen in order even when they arrive together; calls
    // onShown the moment it is on screen.  Resolves true once it has been
    // shown, false if a new generation began first; rejects if it could
    // not be loaded.
    show(url, onShown) {
      const gen = generation;
      const loading = loader.loadAsync(url);
      const turn = queue.then(() => loading).then(
        (gltf) => {
          if (gen !== generation) {
            dispose(gltf.scene);
            return false;
          }
          display(gltf.scene);
          if (onShown) onShown();
          return new Promise((resolve) => setTimeout(() => resolve(true), MIN_DWELL_MS));
        },
        (err) => {
          if (gen !== generation) return false;
          throw err;
        },
      );
      queue = turn.catch(() => false);
      return turn;
    },
    // Shows a GLB held in memory (a repaired mesh: no URL to load it
    // from, and the page may only fetch from its own origin); calls
    // onShown once it is on screen.  Resolves with the shown object, or
    // null if a new generation began first.
    async showBuffer(buffer, onShown) {
      const gen = generation;
      await queue;
      const gltf = await loader.parseAsync(buffer, '');
      if (gen !== generation) {
        dispose(gltf.scene);
        return null;
      }
      display(gltf.scene);
      if (onShown) onShown();
      return gltf.scene;
    },
    // The backlit view (a lithophane's) on, with the plate's thinnest
    // thickness minMm, or off: the model's own look again.
    setBacklit(on, minMm = 0.8) {
      backlit = on ? { minMm } : null;
      if (model) {
        applyBacklit(model);
        if (on) faceFront(modelSize());
      }
      render();
    },
    setWireframe(on) {
      wireframe = on;
      if (model) applyWireframe(model);
      render();
    },
    clear() {
      if (model) {
        scene.remove(model);
        dispose(model);
        model = null;
      }
      render();
    },
  };
}
