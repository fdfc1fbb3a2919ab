// scene.pov -- disco "raytrace" workload scene (stands in for the SPLASH-2
// "car" model): a CSG toy car on a reflective checkered floor, with chrome
// and glass spheres, two point lights and shadows.  No #include files, no
// randomness (no jitter, no area lights, no radiosity), so the image
// depends only on the renderer and the resolution.
#version 3.7;
global_settings { assumed_gamma 1.0 max_trace_level 6 }

camera {
  location <5.5, 3.2, -7.5>
  look_at  <0, 0.7, 0>
  angle 48
}

light_source { <-20, 30, -25> color rgb <1.0, 0.97, 0.9> }
light_source { < 15, 12, -10> color rgb <0.35, 0.4, 0.5> }

sky_sphere {
  pigment { gradient y color_map { [0 color rgb <0.85,0.9,1>] [1 color rgb <0.2,0.35,0.8>] } }
}

// floor
plane { y, 0
  pigment { checker color rgb <0.9,0.9,0.85> color rgb <0.15,0.2,0.25> scale 1.5 }
  finish { diffuse 0.8 reflection { 0.25 } }
}

#declare Paint = texture {
  pigment { color rgb <0.75, 0.06, 0.04> }
  finish { diffuse 0.6 specular 0.7 roughness 0.01 reflection { 0.15 } }
}
#declare Chrome = texture {
  pigment { color rgb <0.85, 0.85, 0.9> }
  finish { diffuse 0.1 specular 0.9 roughness 0.002 reflection { 0.75 } metallic }
}
#declare Rubber = texture {
  pigment { color rgb <0.04, 0.04, 0.04> } finish { diffuse 0.5 specular 0.1 }
}
#declare Glass = material {
  texture { pigment { color rgbf <0.95, 0.98, 1.0, 0.9> }
            finish { diffuse 0.05 specular 0.9 roughness 0.001 reflection { 0.1 } } }
  interior { ior 1.5 }
}

#declare Wheel = union {
  difference {
    cylinder { <0,0,-0.22>, <0,0,0.22>, 0.45 }
    torus { 0.45, 0.06 rotate x*90 translate <0,0,0.22> }
    torus { 0.45, 0.06 rotate x*90 translate <0,0,-0.22> }
    texture { Rubber }
  }
  cylinder { <0,0,-0.24>, <0,0,0.24>, 0.25 texture { Chrome } }
}

#declare Car = union {
  // body: rounded box made of a box intersected with a squashed sphere
  intersection {
    box { <-2.2, 0.35, -0.95>, <2.2, 1.05, 0.95> }
    sphere { 0, 1 scale <2.45, 1.6, 1.25> translate y*0.35 }
    texture { Paint }
  }
  // cabin with glass
  intersection {
    box { <-1.1, 1.0, -0.8>, <0.9, 1.65, 0.8> }
    sphere { 0, 1 scale <1.4, 0.7, 1.05> translate <-0.1, 1.0, 0> }
    material { Glass }
  }
  // bumpers and lamps
  cylinder { <2.2, 0.5, -0.85>, <2.2, 0.5, 0.85>, 0.09 texture { Chrome } }
  cylinder { <-2.2, 0.5, -0.85>, <-2.2, 0.5, 0.85>, 0.09 texture { Chrome } }
  sphere { <2.15, 0.8, -0.6>, 0.14 texture { pigment { color rgb <1,1,0.8> } finish { ambient 0.8 diffuse 0.2 } } }
  sphere { <2.15, 0.8,  0.6>, 0.14 texture { pigment { color rgb <1,1,0.8> } finish { ambient 0.8 diffuse 0.2 } } }
  object { Wheel translate < 1.35, 0.45, -0.9> }
  object { Wheel translate < 1.35, 0.45,  0.9> }
  object { Wheel translate <-1.35, 0.45, -0.9> }
  object { Wheel translate <-1.35, 0.45,  0.9> }
}

object { Car rotate y*-25 }

sphere { <-2.8, 1.0, 2.2>, 1.0 texture { Chrome } }
sphere { < 2.9, 0.7, 2.0>, 0.7 material { Glass } }
sphere { <-0.5, 0.4, -2.6>, 0.4 texture { pigment { color rgb <0.1,0.5,0.15> } finish { specular 0.5 reflection { 0.3 } } } }

// a ring of small chrome balls around the scene
#declare I = 0;
#while (I < 12)
  sphere { <5.5, 0.25, 0>, 0.25 rotate y*(I*30 + 15) texture { Chrome } }
  #declare I = I + 1;
#end
